from django.contrib import admin

from emailsms.models import AllowedSender, EmailReply, EmailText


@admin.register(AllowedSender)
class AllowedSenderAdmin(admin.ModelAdmin):
    list_display = ["address", "sender", "is_active", "created_at"]


@admin.register(EmailText)
class EmailTextAdmin(admin.ModelAdmin):
    list_display = ["created_at", "from_address", "to_number", "channel"]
    raw_id_fields = ["sms", "allowed_sender"]


@admin.register(EmailReply)
class EmailReplyAdmin(admin.ModelAdmin):
    list_display = ["created_at", "text", "status", "attempts"]
    raw_id_fields = ["text", "inbound"]
