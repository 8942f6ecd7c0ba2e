from django.urls import path

from learninghub.insights.metrics import views

app_name = "dashboards"
urlpatterns = [
    path("", views.organisation_dashboard, name="organisation"),
    path("<slug:slug>/", views.team_dashboard, name="team"),
]
