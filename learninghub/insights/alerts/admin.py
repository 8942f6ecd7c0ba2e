from django.contrib import admin

from learninghub.insights.alerts.models import AlertRule, CalendarFeed, Notification, Subscription


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["team", "kind", "enabled", "threshold", "alert_on_rise", "updated_by", "updated_at"]
    list_filter = ["kind", "enabled", "team"]
    raw_id_fields = ["updated_by"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "team", "channel", "paused", "consecutive_failures", "created_at"]
    list_filter = ["channel", "paused", "team"]
    search_fields = ["name", "target", "owner__username"]
    raw_id_fields = ["owner"]
    readonly_fields = ["is_default", "consecutive_failures", "created_at"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "subject_key", "period_key", "subscription", "status", "attempts",
                    "sent_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["subject_key", "last_error"]
    raw_id_fields = ["subscription", "team"]
    readonly_fields = ["created_at", "sent_at", "claimed_at", "attempts"]
    date_hierarchy = "created_at"


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at", "rotated_at"]
    raw_id_fields = ["user"]
    exclude = ["secret"]
