"""Campaign reports; included by campaigns/urls.py inside the "campaigns" namespace."""

from django.urls import path

from campaigns import views_reports as views

urlpatterns = [
    path("campaigns/<int:pk>/report/", views.report, name="report"),
    path("campaigns/<int:pk>/report/live/", views.report_live, name="report_live"),
    path("campaigns/<int:pk>/report/timeline/", views.report_timeline, name="report_timeline"),
    path(
        "campaigns/<int:pk>/report/recipients/", views.report_recipients, name="report_recipients"
    ),
    path("campaigns/<int:pk>/report/export.csv", views.report_export, name="report_export"),
]
