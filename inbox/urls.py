from django.urls import path

from inbox import views, views_actions, views_canned, views_rules

app_name = "inbox"

urlpatterns = [
    path("inbox/", views.index, name="index"),
    path("inbox/list/", views.conversation_list, name="list"),
    path("inbox/poll/", views.poll, name="poll"),
    path("inbox/<int:pk>/", views.index, name="conversation"),
    path("inbox/<int:pk>/reply/", views_actions.reply, name="reply"),
    path("inbox/<int:pk>/note/", views_actions.note, name="note"),
    path("inbox/<int:pk>/assign/", views_actions.assign, name="assign"),
    path("inbox/<int:pk>/status/", views_actions.status, name="status"),
    path("inbox/<int:pk>/label/", views_actions.label, name="label"),
    path(
        "inbox/<int:pk>/canned/<int:canned_pk>/",
        views_actions.canned_insert,
        name="canned_insert",
    ),
    path("inbox/canned/", views_canned.canned_list, name="canned"),
    path("inbox/canned/new/", views_canned.canned_edit, name="canned_create"),
    path("inbox/canned/<int:pk>/", views_canned.canned_edit, name="canned_edit"),
    path("inbox/canned/<int:pk>/delete/", views_canned.canned_remove, name="canned_delete"),
    path("inbox/rules/", views_rules.rule_list, name="rules"),
    path("inbox/rules/new/", views_rules.rule_edit, name="rule_create"),
    path("inbox/rules/<int:pk>/", views_rules.rule_detail, name="rule_detail"),
    path("inbox/rules/<int:pk>/edit/", views_rules.rule_edit, name="rule_edit"),
    path("inbox/rules/<int:pk>/delete/", views_rules.rule_remove, name="rule_delete"),
    path("inbox/labels/", views_rules.label_list, name="labels"),
    path("inbox/labels/<int:pk>/delete/", views_rules.label_delete, name="label_delete"),
]
