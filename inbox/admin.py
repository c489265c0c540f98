from django.contrib import admin

from inbox.models import (
    Activity,
    CannedReply,
    Conversation,
    Forward,
    Label,
    Rule,
    RuleAction,
    RuleRun,
)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["contact_number", "platform_number", "status", "assignee", "last_message_at"]
    list_filter = ["status"]
    search_fields = ["contact_number", "platform_number"]
    raw_id_fields = ["contact", "sender", "assignee"]


class RuleActionInline(admin.TabularInline):
    model = RuleAction
    extra = 0


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["name", "keyword", "sender", "window", "is_active", "position"]
    inlines = [RuleActionInline]


@admin.register(RuleRun)
class RuleRunAdmin(admin.ModelAdmin):
    list_display = ["rule", "contact_number", "created_at"]
    raw_id_fields = ["conversation"]


@admin.register(Forward)
class ForwardAdmin(admin.ModelAdmin):
    list_display = ["kind", "target", "status", "attempts", "next_attempt_at"]
    list_filter = ["kind", "status"]


admin.site.register(Label)
admin.site.register(CannedReply)
admin.site.register(Activity)
