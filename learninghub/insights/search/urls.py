from django.urls import path

from learninghub.insights.search import views

app_name = "search"

urlpatterns = [
    path("", views.search_page, name="page"),
    path("similar/", views.similar, name="similar"),
    path("pick/", views.pick, name="pick"),
]
