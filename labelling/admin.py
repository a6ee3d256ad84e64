from django.contrib import admin

from .models import AILabel, Comparison, HumanReview, LabelSet, LabelSetOverride, ReviewQueue


@admin.register(LabelSet)
class LabelSetAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "team",
        "source_kind",
        "status",
        "comparison_count",
        "ai_label_count",
        "created_at",
    )
    list_filter = ("status", "source_kind", "team")
    search_fields = ("name",)
    # Status changes go through the services (the approval gate), not the admin.
    readonly_fields = (
        "status",
        "decided_by",
        "decided_at",
        "decision_reason",
        "comparison_count",
        "ai_label_count",
    )


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = (
        "external_id",
        "label_set",
        "principle_key",
        "category",
        "human_verdict",
        "review_count",
    )
    list_filter = ("label_set",)
    search_fields = ("external_id", "prompt")
    raw_id_fields = ("label_set", "principle")


@admin.register(AILabel)
class AILabelAdmin(admin.ModelAdmin):
    list_display = ("comparison", "judge", "verdict_ab", "verdict_ba", "final", "consistent")
    list_filter = ("judge", "final", "consistent")
    raw_id_fields = ("label_set", "comparison")
    # Derived fields come from labelling.stats.derive_label in the services.
    readonly_fields = ("consistent", "preferred_slot", "p_debiased", "confidence", "final", "rule")


@admin.register(HumanReview)
class HumanReviewAdmin(admin.ModelAdmin):
    list_display = ("comparison", "reviewer_name", "source", "verdict", "shown_order", "created_at")
    list_filter = ("source", "verdict")
    raw_id_fields = ("comparison", "label_set", "reviewer", "queue")


admin.site.register(ReviewQueue)
admin.site.register(LabelSetOverride)
