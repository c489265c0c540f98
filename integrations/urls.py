from django.urls import path

from integrations import views, views_qr

app_name = "integrations"

urlpatterns = [
    path("", views.index, name="index"),
    path("webhooks/", views.endpoint_list, name="endpoint_list"),
    path("webhooks/new/", views.endpoint_create, name="endpoint_create"),
    path("webhooks/<int:pk>/", views.endpoint_detail, name="endpoint_detail"),
    path("webhooks/<int:pk>/edit/", views.endpoint_edit, name="endpoint_edit"),
    path("webhooks/<int:pk>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path("webhooks/<int:pk>/test/", views.endpoint_test, name="endpoint_test"),
    path("webhooks/<int:pk>/secret/", views.endpoint_roll_secret, name="endpoint_roll_secret"),
    path("webhooks/deliveries/<int:pk>/", views.delivery_detail, name="delivery_detail"),
    path("webhooks/deliveries/<int:pk>/replay/", views.delivery_replay, name="delivery_replay"),
    path("qr/", views_qr.qr_index, name="qr_index"),
    path("qr/<int:pk>/code.png", views_qr.qr_png, name="qr_png"),
    path("qr/<int:pk>/code.svg", views_qr.qr_svg, name="qr_svg"),
    path("qr/<int:pk>/poster/", views_qr.qr_poster, name="qr_poster"),
]
