"""Imports and exports; included by contacts/urls.py inside the "contacts" namespace."""

from django.urls import path

from contacts import views_imports as views

urlpatterns = [
    path("contacts/import/", views.import_upload, name="import_upload"),
    path("contacts/import/<int:pk>/", views.import_detail, name="import_detail"),
    path("contacts/import/<int:pk>/map/", views.import_map, name="import_map"),
    path("contacts/import/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("contacts/import/<int:pk>/errors.csv", views.import_errors, name="import_errors"),
    path("contacts/export/", views.export_contacts, name="export"),
    path("contacts/export/opt-outs/", views.export_optouts, name="export_optouts"),
    path("contacts/export/<int:pk>/", views.export_detail, name="export_detail"),
    path("contacts/export/<int:pk>/progress/", views.export_progress, name="export_progress"),
    path("contacts/export/<int:pk>/download/", views.export_download, name="export_download"),
]
