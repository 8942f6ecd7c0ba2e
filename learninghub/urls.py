from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from learninghub.insights.metrics import views as dashboard_views
from learninghub.kernel import views


class FaviconRedirect(RedirectView):
    """``/favicon.ico`` (asked for by browsers and feed readers that ignore ``<link rel=icon>``)
    goes to the static icon, resolved per request so the hashed name of collectstatic is used."""

    permanent = False

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("img/favicon.svg")


urlpatterns = [
    path("favicon.ico", login_not_required(FaviconRedirect.as_view()), name="favicon"),
    path("", dashboard_views.organisation_dashboard, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("csp-report/", views.csp_report, name="csp-report"),
    path("vendor/plotly-<str:version>.min.js", views.plotly_js, name="plotly-js"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("profile/tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke-token"),
    path("teams/", views.team_list, name="team-list"),
    path("teams/<slug:slug>/", views.team_detail, name="team-detail"),
    path("experiments/", include("experiments.urls")),
    path("postmortems/", include("postmortems.urls")),
    path("awards/", include("awards.urls")),
    path("review-queue/", include("learninghub.insights.repeats.urls")),
    path("dashboards/", include("learninghub.insights.metrics.urls")),
    path("search/", include("learninghub.insights.search.urls")),
    path("alerts/", include("learninghub.insights.alerts.urls")),
    path("api/", include("learninghub.api")),
    path("admin/", admin.site.urls),
]

handler400 = "learninghub.kernel.error_views.bad_request"
handler403 = "learninghub.kernel.error_views.permission_denied"
handler404 = "learninghub.kernel.error_views.page_not_found"
handler500 = "learninghub.kernel.error_views.server_error"
