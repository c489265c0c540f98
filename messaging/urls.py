from django.urls import path

from messaging import views, webhooks

app_name = "messaging"

urlpatterns = [
    path("messages/", views.message_log, name="log"),
    path("messages/<uuid:uuid>/", views.message_detail, name="detail"),
    path("messages/counter/", views.counter, name="counter"),
    path("providers/", views.provider_list, name="providers"),
    path("providers/new/", views.provider_edit, name="provider_create"),
    path("providers/<int:pk>/", views.provider_detail, name="provider_detail"),
    path("providers/<int:pk>/edit/", views.provider_edit, name="provider_edit"),
    path("senders/", views.sender_list, name="senders"),
    path("senders/new/", views.sender_edit, name="sender_create"),
    path("senders/<int:pk>/edit/", views.sender_edit, name="sender_edit"),
    path("senders/<int:pk>/test/", views.sender_test, name="sender_test"),
    path("webhooks/<uuid:public_id>/receipts/", webhooks.receipt_webhook, name="webhook_receipts"),
    path("webhooks/<uuid:public_id>/inbound/", webhooks.inbound_webhook, name="webhook_inbound"),
]
