from django.contrib import admin

from .models import Example, ExampleRound, ModelEntry, PromptSet, Run, RunShard


@admin.register(ModelEntry)
class ModelEntryAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "backend", "path", "base_url", "created_at")
    list_filter = ("backend", "team")


@admin.register(PromptSet)
class PromptSetAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "count", "held_out_count", "format", "created_at")
    list_filter = ("team",)


class RunShardInline(admin.TabularInline):
    model = RunShard
    extra = 0
    fields = (
        "index",
        "start",
        "end",
        "status",
        "done_units",
        "total_units",
        "worker",
        "heartbeat_at",
        "attempts",
        "lost",
        "error",
    )
    readonly_fields = fields
    can_delete = False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("__str__", "team", "kind", "status", "done_units", "total_units", "created_at")
    list_filter = ("status", "kind", "team")
    readonly_fields = ("config",)
    inlines = [RunShardInline]


@admin.register(Example)
class ExampleAdmin(admin.ModelAdmin):
    list_display = ("run", "index", "initial_finish")
    raw_id_fields = ("run", "prompt")


@admin.register(ExampleRound)
class ExampleRoundAdmin(admin.ModelAdmin):
    list_display = ("example", "round", "principle_key", "critique_finish", "revision_finish")
    raw_id_fields = ("example", "principle")
