from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import errors, views_campaigns, views_contacts, views_messages, views_otp

app_name = "api"

urlpatterns = [
    path("messages", views_messages.MessageListCreate.as_view(), name="messages"),
    path("messages/batch", views_messages.MessageBatch.as_view(), name="messages_batch"),
    path("messages/<uuid:uuid>", views_messages.MessageDetail.as_view(), name="message_detail"),
    path(
        "messages/<uuid:uuid>/cancel",
        views_messages.MessageCancel.as_view(),
        name="message_cancel",
    ),
    path("contacts", views_contacts.ContactListCreate.as_view(), name="contacts"),
    path("contacts/opt-out", views_contacts.ContactOptOut.as_view(), name="contact_opt_out"),
    path("contacts/opt-in", views_contacts.ContactOptIn.as_view(), name="contact_opt_in"),
    path("contacts/<int:pk>", views_contacts.ContactDetail.as_view(), name="contact_detail"),
    path("lists", views_contacts.ListIndex.as_view(), name="lists"),
    path("lists/<int:pk>", views_contacts.ListDetail.as_view(), name="list_detail"),
    path("lists/<int:pk>/members", views_contacts.ListMembers.as_view(), name="list_members"),
    path("segments", views_contacts.SegmentIndex.as_view(), name="segments"),
    path("segments/<int:pk>", views_contacts.SegmentDetail.as_view(), name="segment_detail"),
    path("campaigns", views_campaigns.CampaignIndex.as_view(), name="campaigns"),
    path("campaigns/<int:pk>", views_campaigns.CampaignDetail.as_view(), name="campaign_detail"),
    path(
        "campaigns/<int:pk>/schedule",
        views_campaigns.CampaignSchedule.as_view(),
        name="campaign_schedule",
    ),
    path(
        "campaigns/<int:pk>/cancel",
        views_campaigns.CampaignCancel.as_view(),
        name="campaign_cancel",
    ),
    path(
        "campaigns/<int:pk>/report",
        views_campaigns.CampaignReport.as_view(),
        name="campaign_report",
    ),
    path("otp/send", views_otp.OtpSend.as_view(), name="otp_send"),
    path("otp/verify", views_otp.OtpVerify.as_view(), name="otp_verify"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Anything else under /api/v1/: a JSON 404, not the HTML page.
    re_path(r"^.*$", errors.not_found),
]
