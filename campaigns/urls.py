from django.urls import path

from campaigns import urls_reports, views

app_name = "campaigns"

urlpatterns = [
    path("campaigns/", views.campaign_list, name="list"),
    path("campaigns/new/", views.campaign_compose, name="create"),
    path("campaigns/estimate/", views.campaign_estimate, name="estimate"),
    path("campaigns/test-send/", views.campaign_test_send, name="test_send"),
    path("campaigns/settings/", views.campaign_settings, name="settings"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_compose, name="edit"),
    path("campaigns/<int:pk>/approve/", views.campaign_approve, name="approve"),
    path("campaigns/<int:pk>/reject/", views.campaign_reject, name="reject"),
    path("campaigns/<int:pk>/pause/", views.campaign_pause, name="pause"),
    path("campaigns/<int:pk>/resume/", views.campaign_resume, name="resume"),
    path("campaigns/<int:pk>/cancel/", views.campaign_cancel, name="cancel"),
    *urls_reports.urlpatterns,
]
