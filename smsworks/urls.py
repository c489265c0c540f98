from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from smsworks import views

users_patterns = (
    [
        path("", views.user_list, name="list"),
        path("new/", views.user_create, name="create"),
        path("<int:pk>/", views.user_edit, name="edit"),
        path("<int:pk>/password/", views.user_set_password, name="password"),
    ],
    "users",
)

urlpatterns = [
    # First: an API request then tries one prefix, not every page's pattern (no
    # pattern above it could match a path under api/v1/, so nothing else changes).
    path("api/v1/", include("api.urls")),
    path("", views.dashboard, name="dashboard"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("users/", include(users_patterns)),
    path("", include("messaging.urls")),
    path("", include("contacts.urls")),
    path("", include("campaigns.urls")),
    path("", include("campaigns.urls_links")),
    path("", include("inbox.urls")),
    path("integrations/keys/", include("api.urls_keys")),
    path("integrations/", include("integrations.urls")),
    path("integrations/email/", include("emailsms.urls")),
    path("audit/", include("audit.urls")),
    path("", include("ops.urls")),
    path("django-admin/", admin.site.urls),
]

handler403 = "smsworks.views.error_403"
handler404 = "smsworks.views.error_404"
handler500 = "smsworks.views.error_500"
