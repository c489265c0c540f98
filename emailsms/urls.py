from django.urls import path

from emailsms import mailgun, views

app_name = "emailsms"

urlpatterns = [
    path("", views.index, name="index"),
    path("senders/new/", views.allowed_edit, name="allowed_create"),
    path("senders/<int:pk>/edit/", views.allowed_edit, name="allowed_edit"),
    path("senders/<int:pk>/delete/", views.allowed_delete, name="allowed_delete"),
    path("inbound/mailgun/", mailgun.inbound, name="mailgun"),
]
