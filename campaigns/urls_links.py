"""Short links at the root of the site (or of the short domain): /l/<code>.

Included by smsworks/urls.py without a namespace: `path("", include("campaigns.urls_links"))`.
"""

from django.urls import path

from campaigns import links

urlpatterns = [
    path("l/<str:code>", links.short_link_redirect, name="short_link"),
]
