from django.contrib import admin

from integrations.models import Delivery, Endpoint, Event


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "is_active", "created_at", "deleted_at"]
    exclude = ["secret"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["type", "public_id", "created_at"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "next_attempt_at"]
    list_select_related = ["event", "endpoint"]
