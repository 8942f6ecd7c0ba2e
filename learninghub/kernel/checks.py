"""Project system checks: ``check --deploy`` fails when the Content-Security-Policy is missing
or lets inline or eval'd scripts run."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

CSP_MIDDLEWARE = "django.middleware.csp.ContentSecurityPolicyMiddleware"
UNSAFE_SCRIPT_SOURCES = ("'unsafe-inline'", "'unsafe-eval'")


@register(Tags.security, deploy=True)
def check_content_security_policy(app_configs, **kwargs) -> list[Error]:
    errors = []
    if CSP_MIDDLEWARE not in settings.MIDDLEWARE:
        errors.append(Error(f"{CSP_MIDDLEWARE} is not in MIDDLEWARE: no Content-Security-Policy is sent.",
                            id="learninghub.E001"))
    policy = getattr(settings, "SECURE_CSP", None) or {}
    if not policy:
        errors.append(Error("SECURE_CSP is empty: no Content-Security-Policy is enforced.", id="learninghub.E002"))
        return errors
    script_sources = [str(source) for source in policy.get("script-src", policy.get("default-src", []))]
    if unsafe := [source for source in UNSAFE_SCRIPT_SOURCES if source in script_sources]:
        errors.append(Error(f"SECURE_CSP's script-src allows {', '.join(unsafe)}.", id="learninghub.E003"))
    if "frame-ancestors" not in policy:
        errors.append(Error("SECURE_CSP sets no frame-ancestors (clickjacking).", id="learninghub.E004"))
    return errors
