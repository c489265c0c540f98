"""Lists and segments; included by contacts/urls.py inside the "contacts" namespace."""

from django.urls import path

from contacts import views_lists as views

urlpatterns = [
    path("contacts/lists/", views.list_index, name="lists"),
    path("contacts/lists/new/", views.list_edit, name="list_create"),
    path("contacts/lists/<int:pk>/", views.list_detail, name="list_detail"),
    path("contacts/lists/<int:pk>/edit/", views.list_edit, name="list_edit"),
    path("contacts/lists/<int:pk>/remove/", views.list_remove_members, name="list_remove_members"),
    path("contacts/lists/<int:pk>/delete/", views.list_delete, name="list_delete"),
    path("contacts/segments/", views.segment_index, name="segments"),
    path("contacts/segments/new/", views.segment_edit, name="segment_create"),
    path("contacts/segments/preview/", views.segment_preview, name="segment_preview"),
    path("contacts/segments/<int:pk>/", views.segment_detail, name="segment_detail"),
    path("contacts/segments/<int:pk>/edit/", views.segment_edit, name="segment_edit"),
    path("contacts/segments/<int:pk>/delete/", views.segment_delete, name="segment_delete"),
]
