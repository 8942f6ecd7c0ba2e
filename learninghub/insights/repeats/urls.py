from django.urls import path

from learninghub.insights.repeats import views

app_name = "repeats"
urlpatterns = [
    path("", views.review_queue, name="queue"),
    path("<int:pk>/<str:action>/", views.decide, name="decide"),
]
