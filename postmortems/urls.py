from django.urls import path

from postmortems import exports, views

app_name = "postmortems"
urlpatterns = [
    path("", views.postmortem_list, name="list"),
    path("export.csv", exports.postmortems_csv, name="export"),
    path("action-items/export.csv", exports.action_items_csv, name="action-items-export"),
    path("new/", views.postmortem_create, name="create"),
    path("import/", views.postmortem_import, name="import"),
    path("action-items/", views.action_item_list, name="action-items"),
    path("my-action-items/", views.my_action_items, name="my-action-items"),
    path("action-items/<int:pk>/status/", views.action_item_status, name="action-item-status"),
    path("<int:pk>/", views.postmortem_detail, name="detail"),
    path("<int:pk>/edit/", views.postmortem_edit, name="edit"),
    path("<int:pk>/delete/", views.postmortem_delete, name="delete"),
    path("<int:pk>/markdown/", views.postmortem_markdown, name="markdown"),
]
