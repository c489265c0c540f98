from django.urls import path

from contacts import urls_imports, urls_lists, views, views_consent, views_fields

app_name = "contacts"

urlpatterns = [
    path("contacts/", views.contact_list, name="list"),
    path("contacts/new/", views.contact_edit, name="create"),
    path("contacts/bulk/", views.contact_bulk, name="bulk"),
    path("contacts/<int:pk>/", views.contact_detail, name="detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="edit"),
    path("contacts/<int:pk>/delete/", views.contact_delete, name="delete"),
    path("contacts/fields/", views_fields.field_list, name="fields"),
    path("contacts/fields/new/", views_fields.field_edit, name="field_create"),
    path("contacts/fields/<int:pk>/", views_fields.field_edit, name="field_edit"),
    path("opt-outs/", views_consent.optout_list, name="optouts"),
    path("opt-outs/add/", views_consent.optout_add, name="optout_add"),
    path("opt-outs/remove/", views_consent.optout_remove, name="optout_remove"),
    *urls_lists.urlpatterns,
    *urls_imports.urlpatterns,
]
