from django.urls import path

from learninghub.insights.alerts import views

app_name = "alerts"
urlpatterns = [
    path("teams/<slug:slug>/", views.team_settings, name="team"),
    path("subscriptions/", views.my_subscriptions, name="subscriptions"),
    path("subscriptions/<int:pk>/test/", views.subscription_test, name="subscription-test"),
    path("subscriptions/<int:pk>/toggle/", views.subscription_toggle, name="subscription-toggle"),
    path("subscriptions/<int:pk>/delete/", views.subscription_delete, name="subscription-delete"),
    path("notifications/", views.notifications, name="notifications"),
    path("calendar/rotate/", views.calendar_rotate, name="calendar-rotate"),
    path("calendar/<str:secret>.ics", views.calendar_feed, name="calendar"),
]
