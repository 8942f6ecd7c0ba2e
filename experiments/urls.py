from django.urls import path

from experiments import exports, views

app_name = "experiments"
urlpatterns = [
    path("", views.experiment_list, name="list"),
    path("export.csv", exports.experiments_csv, name="export"),
    path("new/", views.experiment_create, name="create"),
    path("<int:pk>/", views.experiment_detail, name="detail"),
    path("<int:pk>/edit/", views.experiment_edit, name="edit"),
    path("<int:pk>/delete/", views.experiment_delete, name="delete"),
    path("<int:pk>/markdown/", views.experiment_markdown_export, name="markdown"),
    path("lessons/", views.lesson_library, name="lessons"),
    path("lessons/picker/", views.lesson_picker, name="lesson-picker"),
]
