"""LearningHub settings, driven by environment variables with safe embedded defaults (``test`` extends them).

Without any environment the app runs on SQLite with Celery tasks executed in-process and a
local-memory cache. ``DATABASE_URL`` switches to PostgreSQL (psycopg 3 with a connection pool),
``REDIS_URL`` makes Redis the Celery broker and the cache.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent

TRUE_VALUES = {"1", "true", "yes", "on"}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in TRUE_VALUES


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from exc


def env_fraction(name: str, default: float) -> float:
    """A number in [0, 1] (a similarity threshold); out of range or not a number is a configuration error."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number between 0 and 1, got {raw!r}") from exc
    if not 0 <= value <= 1:
        raise ImproperlyConfigured(f"{name} must be between 0 and 1, got {raw!r}")
    return value


def database_config(url: str | None, base_dir: Path) -> dict:
    """Django DATABASES['default'] from a URL; SQLite file in the project when absent."""
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": base_dir / "db.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.postgresql":
        # psycopg 3's pool replaces persistent connections (CONN_MAX_AGE must stay 0).
        config.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": 10, "timeout": 10}
        # With a pool, Django passes ``check=ConnectionPool.check_connection`` when health checks
        # are on: a connection killed by the server (restart, pg_terminate_backend, a proxy's idle
        # timeout) is replaced before it is handed out, instead of failing a request.
        config["CONN_HEALTH_CHECKS"] = True
        # No JIT: it compiles any plan costed above jit_above_cost, and full-text statistics
        # overestimate rare words' matches, so a 1 ms list search paid 20-40 ms of compiling.
        # Nothing here runs long enough to win it back (measured: bench/lists.py).
        config["OPTIONS"]["options"] = "-c jit=off"
    return config


def email_config(url: str | None) -> dict:
    """EMAIL_* settings from EMAIL_URL: console:// (default), locmem://, smtp://user:pass@host:port?tls=1."""
    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    simple_backends = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
        "dummy": "django.core.mail.backends.dummy.EmailBackend",
    }
    if scheme in simple_backends:
        return {"EMAIL_BACKEND": simple_backends[scheme]}
    if scheme in {"smtp", "smtps"}:
        query = parse_qs(parsed.query)
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parsed.hostname or "localhost",
            "EMAIL_PORT": parsed.port or (465 if scheme == "smtps" else 25),
            "EMAIL_HOST_USER": unquote(parsed.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
            "EMAIL_USE_SSL": scheme == "smtps",
            "EMAIL_USE_TLS": query.get("tls", ["0"])[0].lower() in TRUE_VALUES,
        }
    raise ImproperlyConfigured(f"EMAIL_URL scheme {scheme!r} is not supported (console, locmem, dummy, smtp, smtps)")


DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "django-insecure-learninghub-dev-key-only-for-debug"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (set DEBUG=1 for local development)")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: runserver (`make run`) then serves static files through whitenoise and
    # the middleware (compressed), not through its own uncompressed handler.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "learninghub.kernel",
    "experiments",
    "postmortems",
    "awards",
    "learninghub.insights.metrics",
    "learninghub.insights.repeats",
    "learninghub.insights.search",
    "learninghub.insights.alerts",
]

MIDDLEWARE = [
    # First, so it compresses every response: HTML pages, the API's JSON, and static files that
    # have no precompressed copy (DEBUG, before collectstatic). BREACH: Django's GZipMiddleware
    # pads each response with random bytes ("Heal the Breach"), the CSRF token in forms is masked
    # afresh in every response, and the session cookie is SameSite=Lax, so a cross-site page can
    # only make top-level navigations carry it; guessing a secret needs thousands of requests
    # whose lengths the padding blurs.
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Hostile input (NUL, lone surrogates, over-deep JSON, unreal moments, over-size bodies) → 4xx.
    "learninghub.kernel.middleware.RequestGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "learninghub.kernel.middleware.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "learninghub.urls"
CSRF_FAILURE_VIEW = "learninghub.kernel.error_views.csrf_failure"
WSGI_APPLICATION = "learninghub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "learninghub.kernel.context_processors.assets",
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {"default": database_config(DATABASE_URL, BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Misses and drops instead of failing requests while Redis is down.
            "BACKEND": "learninghub.kernel.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "learninghub",
            # Short timeouts so a Redis outage degrades pages instead of hanging them.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "learninghub"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Whitenoise's compressed manifest storage in every mode, so the first collectstatic writes the
# manifest and the .gz copies (production, `make test`); a file not collected yet keeps its plain
# name instead of failing the page (a fresh checkout, plain pytest; DEBUG uses plain names).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "learninghub.kernel.staticfiles.CompressedStaticFilesStorage"},
}
# Serve from the finders too, so a fresh checkout works before collectstatic; after
# collectstatic, the hashed, compressed copies are used. A missing manifest entry falls back
# to the plain name instead of failing the page.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_MANIFEST_STRICT = False

_email = email_config(os.environ.get("EMAIL_URL"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "LearningHub <learninghub@localhost>")
# Absolute links in emails; by default the address `make run` serves on (its PORT).
SITE_URL = (os.environ.get("SITE_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or 8000}").rstrip("/")

# --- Celery ---------------------------------------------------------------------------
# Without REDIS_URL tasks run in-process (eagerly), so the embedded default needs no broker.
# A task that fails in-process is logged, not raised into the page or save that enqueued it
# (the test profile makes it propagate).
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TIMEZONE = "UTC"
# Publishing must never hang a web request when the broker is down: fail fast, callers fall back.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
# ``visibility_timeout``: a message taken by a worker that died unacknowledged (acks late) is
# delivered again after this many seconds; it must exceed the longest task (time limit 30 min).
# Workers look for such messages every 10 s (kombu's default throttle would make it every 100 s,
# so a task whose worker was killed waited up to 100 s past its timeout).
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "max_retries": 0,
                                   "visibility_timeout": env_int("BROKER_VISIBILITY_TIMEOUT", 3600),
                                   "unacked_restore_interval": 10, "unacked_restore_throttle": 1}
# After a failed publish, skip the broker for this many seconds (work waits in the outbox,
# ``learninghub.kernel.outbox``), so writes stay fast during an outage.
BROKER_BREAKER_SECONDS = env_int("BROKER_BREAKER_SECONDS", 10)
# The worker side of an outage: keep reconnecting (never give up and exit), and on a lost
# connection cancel the running acks-late tasks, which cannot be acknowledged any more: they are
# redelivered, rather than left to fail the ack (Celery 6's default).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "kernel-heartbeat": {"task": "learninghub.kernel.tasks.heartbeat", "schedule": crontab(minute="*/15")},
    # Publishes the work a broker outage left in the outbox (and re-schedules stale recomputes).
    "kernel-drain-outbox": {"task": "learninghub.kernel.tasks.drain_outbox", "schedule": crontab(),
                            "options": {"expires": 55}},
    "kernel-purge-idempotency-keys": {"task": "learninghub.kernel.tasks.purge_idempotency_keys",
                                      "schedule": crontab(hour=3, minute=15)},
    "postmortems-overdue-reminders": {"task": "postmortems.tasks.send_overdue_reminders",
                                      "schedule": crontab(hour=8, minute=0)},
    # Hourly, so a run missed while the worker was down is caught up soon after.
    "awards-advance-cycles": {"task": "awards.tasks.advance_award_cycles", "schedule": crontab(minute=5)},
    "metrics-nightly-recompute": {"task": "metrics.tasks.recompute_recent_months",
                                  "schedule": crontab(hour=2, minute=30)},
    "alerts-evaluate": {"task": "alerts.tasks.evaluate_alerts", "schedule": crontab(minute="*/15"),
                        "options": {"expires": 14 * 60}},
    # One sync per enabled MLflow mapping (experiments.models.MlflowMapping), from its cursor.
    "experiments-mlflow-sync": {"task": "experiments.tasks.sync_mlflow_mappings", "schedule": crontab(minute=20),
                                "options": {"expires": 50 * 60}},
}

# --- Awards ---------------------------------------------------------------------------
# Nominations are open until the end of this day of the month; voting until the month's last day.
AWARDS_NOMINATIONS_CLOSE_DAY = env_int("AWARDS_NOMINATIONS_CLOSE_DAY", 21)

# --- Alerts ----------------------------------------------------------------------------
# Webhooks to private-network addresses are refused unless this is set (tests reach 127.0.0.1).
ALERT_WEBHOOK_ALLOW_PRIVATE = env_bool("ALERT_WEBHOOK_ALLOW_PRIVATE", False)
ALERT_WEBHOOK_TIMEOUT = env_int("ALERT_WEBHOOK_TIMEOUT", 5)
# A failed delivery is retried after about this many seconds, then twice as long each time.
ALERT_RETRY_BACKOFF_SECONDS = env_int("ALERT_RETRY_BACKOFF_SECONDS", 30)

# --- MLflow ----------------------------------------------------------------------------
# Tracking servers a team's MLflow mapping may point at although they resolve to a private,
# loopback or link-local address (self-hosted MLflow usually sits on the internal network).
# Names, ".example.com" for a domain and its subdomains, or "*" for any host. Public hosts are
# always allowed.
MLFLOW_ALLOWED_HOSTS = env_list("MLFLOW_ALLOWED_HOSTS", [])

# --- Metrics ---------------------------------------------------------------------------
# A burst of writes within this many seconds causes one recomputation of the stale snapshots.
METRICS_DEBOUNCE_SECONDS = env_int("METRICS_DEBOUNCE_SECONDS", 10)

# --- Repeat-failure detection ---------------------------------------------------------
REPEAT_SIMILARITY_BACKEND = os.environ.get("REPEAT_SIMILARITY_BACKEND",
                                           "learninghub.insights.repeats.similarity.FieldwiseSimilarity")
# Similarity at or above AUTO links ``repeat_of`` automatically; in [REVIEW, AUTO) a lead reviews it.
REPEAT_AUTO_LINK_THRESHOLD = env_fraction("REPEAT_AUTO_LINK_THRESHOLD", 0.8)
REPEAT_REVIEW_THRESHOLD = env_fraction("REPEAT_REVIEW_THRESHOLD", 0.5)
if REPEAT_REVIEW_THRESHOLD > REPEAT_AUTO_LINK_THRESHOLD:
    raise ImproperlyConfigured("REPEAT_REVIEW_THRESHOLD must not be above REPEAT_AUTO_LINK_THRESHOLD")
# How many search-index hits of the same team join the candidates a new failure is compared with.
REPEAT_SEARCH_CANDIDATES = env_int("REPEAT_SEARCH_CANDIDATES", 60)

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "learninghub.kernel.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "learninghub.kernel.api.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "learninghub.kernel.api.exceptions.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "learninghub.kernel.api.parsers.DepthLimitedJSONParser",
        "learninghub.kernel.api.parsers.CheckedFormParser",
        "learninghub.kernel.api.parsers.CheckedMultiPartParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LearningHub API",
    "DESCRIPTION": "Experiments, lessons, post-mortems, awards and learning metrics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No call to validator.swagger.io from the docs page: nothing leaves the site.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    # The error answers every operation may give, declared once (learninghub/kernel/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "learninghub.kernel.api.schema.add_error_responses",
    ],
    # Choice sets whose field names collide across resources get their model's name.
    "ENUM_NAME_OVERRIDES": {
        "PostMortemStatusEnum": "postmortems.models.PostMortemStatus",
        "ActionItemStatusEnum": "postmortems.models.ActionItemStatus",
        "CycleStateEnum": "awards.models.CycleState",
    },
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # One line per in-process task is noise in commands like seed_demo; failures still show.
        "celery.app.trace": {"level": "WARNING"},
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)

# --- Security headers: CSP, HSTS ---------------------------------------------------------
# Scripts and styles only from this site or carrying the response's nonce: no inline or eval'd
# script runs, and no injected <style>. Plotly's own <style> elements are pre-created with the
# nonce (templates/partials/_plotly_scripts.html); the inline styles it sets on its SVG go
# through the CSSOM, which style-src does not restrict. The project checks (learninghub.E001–E004)
# make ``check --deploy`` fail without this policy.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "report-uri": "/csp-report/",
}
SECURE_COOKIES = env_bool("SECURE_COOKIES", False)
# HSTS only when the site is served over HTTPS (what SECURE_COOKIES declares).
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000) if SECURE_COOKIES else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto, SECURE_PROXY_SSL_HEADER=1 lets Django
# see HTTPS; SECURE_SSL_REDIRECT=1 then redirects plain HTTP (the health check is exempt).
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Sign-in brute force: django-axes -------------------------------------------------------
# The sign-in form and the admin: a (username, IP) pair is locked after AXES_FAILURE_LIMIT
# failures for AXES_COOLOFF_TIME (never permanently: a lockout must not become a denial of
# service), answered 429 with registration/locked_out.html; attempts and lockouts are stored and
# logged (logger ``axes``). Failed API tokens are throttled per IP (kernel/authentication.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "learninghub.kernel.error_views.locked_out"
AXES_VERBOSE = True
# Behind a proxy, set AXES_IPWARE_PROXY_COUNT / a client-IP callable so the real client is seen.
TOKEN_AUTH_FAILURE_LIMIT = env_int("TOKEN_AUTH_FAILURE_LIMIT", 20)
TOKEN_AUTH_FAILURE_WINDOW = dt.timedelta(minutes=15)
