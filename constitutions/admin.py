"""Admin for support staff. Published and archived versions are read-only here too
(the database triggers of migration 0002 refuse the write even if this were bypassed)."""

from __future__ import annotations

from django.contrib import admin

from .models import (
    Category,
    ChangeEvent,
    Constitution,
    ConstitutionVersion,
    FewShotExample,
    Principle,
)


def _frozen(version: ConstitutionVersion | None) -> bool:
    return version is not None and not version.is_editable


class _VersionChildInline(admin.TabularInline):
    """Rows of a version: editable while it is a draft, read-only once it is not."""

    extra = 0
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_delete_permission(request, obj)


class CategoryInline(_VersionChildInline):
    model = Category
    fields = ["name", "description", "weight", "priority", "order"]


class PrincipleInline(_VersionChildInline):
    model = Principle
    fields = [
        "key",
        "category",
        "critique_request",
        "revision_request",
        "comparison_question",
        "weight",
        "enabled",
        "order",
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Only the categories of the version being edited.
        if db_field.name == "category":
            version_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Category.objects.filter(version_id=version_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class FewShotInline(_VersionChildInline):
    model = FewShotExample
    fields = [
        "prompt",
        "response",
        "critique_request",
        "critique",
        "revision_request",
        "revision",
        "order",
    ]


@admin.register(Constitution)
class ConstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_by", "created_at"]
    list_filter = ["team"]
    search_fields = ["name", "description"]
    raw_id_fields = ["created_by"]


@admin.register(ConstitutionVersion)
class ConstitutionVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "short_hash", "author", "published_at"]
    list_filter = ["status", "constitution__team"]
    search_fields = ["constitution__name", "content_hash"]
    list_select_related = ["constitution", "author"]
    # Status changes go through the services (publish validates and hashes the content).
    readonly_fields = ["status", "content_hash", "published_at", "row_version", "parent"]
    raw_id_fields = ["author"]
    inlines = [CategoryInline, PrincipleInline, FewShotInline]

    def has_change_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_delete_permission(request, obj)


@admin.register(Principle)
class PrincipleAdmin(admin.ModelAdmin):
    list_display = ["key", "version", "category", "weight", "enabled"]
    list_filter = ["version__status", "version__constitution__team"]
    search_fields = ["key", "critique_request", "revision_request"]
    list_select_related = ["version__constitution", "category"]
    raw_id_fields = ["version", "category"]

    def has_change_permission(self, request, obj=None):
        return not (obj is not None and _frozen(obj.version)) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request, obj=None):
        return not (obj is not None and _frozen(obj.version)) and super().has_delete_permission(
            request, obj
        )


@admin.register(ChangeEvent)
class ChangeEventAdmin(admin.ModelAdmin):
    """The history is a record: readable, never edited."""

    list_display = ["at", "constitution", "version_number", "user", "action", "summary"]
    list_filter = ["action"]
    search_fields = ["summary", "constitution__name"]
    list_select_related = ["constitution", "user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
