"""Writes to constitutions. Every change is checked here, recorded in the history,
and (for drafts) guarded by per-row optimistic locking."""

from __future__ import annotations

import math
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Model, ProtectedError
from django.utils import timezone

from cai_web.errors import DomainError
from cai_web.models import Team

from .content import (
    CASE_FIELDS,
    FEW_SHOT_FIELDS,
    KEY_PATTERN,
    LIMITS,
    ConstitutionContent,
    ContentError,
    principle_use_problem,
    validate_content,
)
from .models import (
    Category,
    ChangeEvent,
    Constitution,
    ConstitutionSettings,
    ConstitutionVersion,
    FewShotExample,
    Principle,
    PrincipleCase,
    PublishCheck,
    VersionStatus,
)


class ConstitutionError(DomainError):
    """A request about a constitution that cannot be honoured; shown to the user as is."""


class VersionImmutable(ConstitutionError):
    pass


class RowVersionMissing(ConstitutionError):
    """An edit or delete of a draft's row that did not say which row_version it saw.

    Every such write is optimistic-locked: without the version the form was opened at,
    a replayed or hand-made request would silently overwrite a newer save.
    """

    def __init__(self, label: str) -> None:
        super().__init__(
            f"The request to change {label} did not say which version of it you saw "
            "(row_version is missing), so nothing was saved. Reload the page and try again."
        )


class EditConflict(ConstitutionError):
    """Someone else saved the row after this form was opened; nothing was written."""

    def __init__(self, message: str, *, current: Model | None = None) -> None:
        super().__init__(message)
        self.current = current


# --- helpers ------------------------------------------------------------------------


def _record(
    version: ConstitutionVersion | None,
    user,
    action: str,
    summary: str,
    detail: dict[str, Any] | None = None,
    *,
    constitution: Constitution | None = None,
) -> ChangeEvent:
    return ChangeEvent.objects.create(
        constitution=constitution or version.constitution,
        version=version,
        version_number=version.number if version else None,
        user=user if getattr(user, "is_authenticated", False) else None,
        action=action,
        summary=summary,
        detail=detail or {},
    )


def history_note(
    *,
    version: ConstitutionVersion,
    user,
    action: str,
    summary: str,
    detail: dict[str, Any] | None = None,
) -> ChangeEvent:
    """Record in a version's history a change another app made through these services
    (e.g. "mined from label set X" after a mined principle was added)."""
    return _record(version, user, action[:40], summary, detail)


def _require_draft(version: ConstitutionVersion) -> ConstitutionVersion:
    # Re-read under a lock: the status in memory may be stale.
    current = ConstitutionVersion.objects.select_for_update().get(pk=version.pk)
    if current.status != VersionStatus.DRAFT:
        raise VersionImmutable(
            f"v{current.number} is {current.status} and cannot change. "
            "Edit it to start a new draft from it."
        )
    version.status = current.status
    return current


def _check_weight(value: float, field: str = "weight") -> float:
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConstitutionError(f"{field} must be a number.", field=field) from None
    if not math.isfinite(value) or value < 0:
        raise ConstitutionError(f"{field} must be a finite number ≥ 0, got {value}.", field=field)
    if value > LIMITS.weight_max:
        raise ConstitutionError(
            f"{field} must be at most {LIMITS.weight_max:,.0f}, got {value:g}.", field=field
        )
    return value


def _check_priority(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConstitutionError("priority must be an integer.", field="priority")
    if not LIMITS.priority_min <= value <= LIMITS.priority_max:
        raise ConstitutionError(
            f"priority must be an integer from {LIMITS.priority_min} to {LIMITS.priority_max:,}.",
            field="priority",
        )
    return value


def _check_text(value: str, field: str, *, required: bool = True, limit: int = LIMITS.text) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ConstitutionError(f"{field.replace('_', ' ')} must not be empty.", field=field)
    if len(value) > limit:
        raise ConstitutionError(
            f"{field.replace('_', ' ')} is {len(value):,} characters; the limit is {limit:,}.",
            field=field,
        )
    return value


def _check_key(key: str) -> str:
    key = (key or "").strip()
    if not KEY_PATTERN.fullmatch(key):
        raise ConstitutionError(
            f"key must be 1–{LIMITS.principle_key} characters of lowercase letters, digits, "
            "'-' or '_'.",
            field="key",
        )
    return key


def _expected(expected_row_version: int | None, label: str) -> int:
    """The row_version an edit or delete was made against; required (RowVersionMissing)."""
    if expected_row_version is None or isinstance(expected_row_version, bool):
        raise RowVersionMissing(label)
    return expected_row_version


def _locked_update(
    obj: Model, expected_row_version: int | None, changes: dict[str, Any], label: str
) -> Model:
    """UPDATE ... WHERE row_version = expected; zero rows means a concurrent edit won."""
    model = type(obj)
    expected = _expected(expected_row_version, label)
    qs = model.objects.filter(pk=obj.pk, row_version=expected)
    updated = qs.update(**changes, row_version=F("row_version") + 1)
    if updated == 0:
        current = model.objects.filter(pk=obj.pk).first()
        if current is None:
            raise EditConflict(f"{label} was deleted by someone else; nothing was saved.")
        raise EditConflict(
            f"{label} was changed by someone else after you opened it. Nothing was saved: "
            "review the current text below, then save again to replace it with yours.",
            current=current,
        )
    obj.refresh_from_db()
    return obj


def _diff_fields(obj: Model, changes: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        k: [getattr(obj, k if not k.endswith("_id") else k), v]
        for k, v in changes.items()
        if getattr(obj, k) != v
    }


def _next_number(constitution: Constitution) -> int:
    top = constitution.versions.aggregate(n=Max("number"))["n"]
    return (top or 0) + 1


def _write_content(version: ConstitutionVersion, content: ConstitutionContent) -> None:
    categories = Category.objects.bulk_create(
        [
            Category(
                version=version,
                name=c.name,
                description=c.description,
                weight=float(c.weight),
                priority=int(c.priority),
                order=i,
            )
            for i, c in enumerate(content.categories)
        ]
    )
    by_name = {c.name: c for c in categories}
    Principle.objects.bulk_create(
        [
            Principle(
                version=version,
                category=by_name[p.category],
                key=p.key,
                critique_request=p.critique_request,
                revision_request=p.revision_request,
                comparison_question=p.comparison_question,
                weight=float(p.weight),
                enabled=p.enabled,
                order=i,
            )
            for i, p in enumerate(content.principles)
        ]
    )
    FewShotExample.objects.bulk_create(
        [
            FewShotExample(
                version=version,
                prompt=f.prompt,
                response=f.response,
                critique_request=f.critique_request,
                critique=f.critique,
                revision_request=f.revision_request,
                revision=f.revision,
                order=i,
            )
            for i, f in enumerate(content.few_shots)
        ]
    )
    if content.test_cases:
        by_key = {p.key: p for p in Principle.objects.filter(version=version)}
        PrincipleCase.objects.bulk_create(
            [
                PrincipleCase(
                    version=version,
                    principle=by_key[c.principle],
                    order=i,
                    **{name: getattr(c, name) for name in CASE_FIELDS if name != "principle"},
                )
                for i, c in enumerate(content.test_cases)
            ]
        )


def _content_of(version: ConstitutionVersion) -> ConstitutionContent:
    from .selectors import version_content, version_with_content

    return version_content(version_with_content(version.pk))


# --- constitutions and versions -----------------------------------------------------


@transaction.atomic
def constitution_create(
    *,
    team: Team,
    user,
    name: str,
    description: str = "",
    content: ConstitutionContent | None = None,
    changelog: str = "",
) -> ConstitutionVersion:
    """Create a constitution and its first draft (v1), optionally filled with content."""
    name = (name or "").strip()
    if not name:
        raise ConstitutionError("A constitution needs a name.", field="name")
    name = _check_text(name, "name", limit=LIMITS.constitution_name)
    description = _check_text(description, "description", required=False)
    if Constitution.objects.filter(team=team, name=name).exists():
        raise ConstitutionError(
            f"{team.name} already has a constitution called {name!r}.", field="name"
        )
    if content is not None:
        problems = validate_content(content)
        if problems:
            raise ContentError(problems)
    constitution = Constitution.objects.create(
        team=team,
        name=name,
        description=description,
        created_by=user if user and user.is_authenticated else None,
    )
    version = ConstitutionVersion.objects.create(
        constitution=constitution,
        number=1,
        author=user if user and user.is_authenticated else None,
        changelog=changelog,
    )
    if content is not None:
        _write_content(version, content)
    _record(version, user, "create", f"Created {name} with draft v1")
    return version


@transaction.atomic
def version_draft_from(*, version: ConstitutionVersion, user) -> tuple[ConstitutionVersion, bool]:
    """The draft to edit for ``version``: itself if it is a draft, the draft already copied
    from it if there is one, else a new draft copied from it (parent link).
    Returns (draft, created)."""
    if version.status == VersionStatus.DRAFT:
        return version, False
    # Under the constitution's lock, so two clicks on "Edit" make one draft, not two.
    constitution = Constitution.objects.select_for_update().get(pk=version.constitution_id)
    existing = (
        constitution.versions.filter(status=VersionStatus.DRAFT, parent=version)
        .order_by("-number")
        .first()
    )
    if existing is not None:
        return existing, False
    content = _content_of(version)
    draft = ConstitutionVersion.objects.create(
        constitution=constitution,
        number=_next_number(constitution),
        parent=version,
        author=user if user and user.is_authenticated else None,
    )
    _write_content(draft, content)
    _record(
        draft,
        user,
        "draft",
        f"Started draft v{draft.number} from v{version.number}",
        {"parent": version.number},
    )
    return draft, True


@transaction.atomic
def version_publish(
    *, version: ConstitutionVersion, user, changelog: str = ""
) -> ConstitutionVersion:
    """Validate a draft and freeze it. Refuses with every problem listed."""
    _require_draft(version)
    from .sampler import principle_probabilities

    content = _content_of(version)
    problems = validate_content(content)
    if not content.principles:
        problems.append("A version needs at least one principle before it can be published.")
    if not problems:
        # Publishable when some use can draw a principle: the labeller's draw falls back
        # to every drawable principle, so it fails only when nothing at all can be drawn.
        # A labeller-only version publishes; a critique-revision run on it is refused.
        try:
            principle_probabilities(content, "comparison")
        except ContentError as exc:
            problems.extend(exc.problems)
    check_problem = _publish_check_problem(version, content.content_hash())
    if check_problem:
        problems.append(check_problem)
    if problems:
        raise ContentError(problems)
    changelog = _check_text(changelog, "changelog", required=False)
    updated = ConstitutionVersion.objects.filter(pk=version.pk, status=VersionStatus.DRAFT).update(
        status=VersionStatus.PUBLISHED,
        content_hash=content.content_hash(),
        changelog=changelog or version.changelog,
        published_at=timezone.now(),
    )
    if not updated:
        raise EditConflict("This draft was published or changed by someone else meanwhile.")
    version.refresh_from_db()
    _record(
        version,
        user,
        "publish",
        f"Published v{version.number} ({version.short_hash})",
        {"content_hash": version.content_hash, "changelog": version.changelog},
    )
    return version


@transaction.atomic
def version_archive(*, version: ConstitutionVersion, user) -> ConstitutionVersion:
    if version.status != VersionStatus.PUBLISHED:
        raise ConstitutionError(
            f"Only a published version can be archived; v{version.number} is {version.status}."
        )
    ConstitutionVersion.objects.filter(pk=version.pk).update(status=VersionStatus.ARCHIVED)
    version.refresh_from_db()
    _record(version, user, "archive", f"Archived v{version.number}")
    return version


@transaction.atomic
def version_discard(
    *, version: ConstitutionVersion, user, expected_row_version: int | None
) -> None:
    """Delete a draft. Published versions cannot be deleted (the database refuses too)."""
    current = _require_draft(version)
    if current.row_version != _expected(expected_row_version, f"draft v{version.number}"):
        raise EditConflict(
            f"Draft v{version.number} was changed by someone else; nothing was deleted."
        )
    if version.children.exists():
        raise ConstitutionError("Other versions were copied from this draft; it cannot be deleted.")
    _record(
        None,
        user,
        "discard",
        f"Discarded draft v{version.number}",
        constitution=version.constitution,
    )
    try:
        with transaction.atomic():
            version.delete()
    except ProtectedError:
        # A run's constitution_version is PROTECT: a checked draft keeps its check.
        raise ConstitutionError(
            f"Runs used draft v{version.number} (a constitution check, for one); "
            "it cannot be deleted."
        ) from None


@transaction.atomic
def version_set_changelog(
    *, version: ConstitutionVersion, user, changelog: str, expected_row_version: int | None
) -> ConstitutionVersion:
    _require_draft(version)
    changelog = _check_text(changelog, "changelog", required=False)
    _locked_update(
        version, expected_row_version, {"changelog": changelog}, f"v{version.number}'s changelog"
    )
    _record(version, user, "changelog", f"Changed the changelog of v{version.number}")
    return version


# --- categories ---------------------------------------------------------------------


@transaction.atomic
def category_add(
    *,
    version: ConstitutionVersion,
    user,
    name: str,
    description: str = "",
    weight: float = 1.0,
    priority: int = 100,
) -> Category:
    _require_draft(version)
    name = _check_text(name, "name", limit=LIMITS.category_name)
    weight = _check_weight(weight)
    priority = _check_priority(priority)
    if version.categories.filter(name=name).exists():
        raise ConstitutionError(
            f"v{version.number} already has a category called {name!r}.", field="name"
        )
    order = (version.categories.aggregate(n=Max("order"))["n"] or 0) + 1
    category = Category.objects.create(
        version=version,
        name=name,
        description=_check_text(description, "description", required=False),
        weight=weight,
        priority=priority,
        order=order,
    )
    _record(version, user, "category_add", f"Added category {name!r} (weight {weight:g})")
    return category


@transaction.atomic
def category_update(
    *, category: Category, user, expected_row_version: int | None, **fields: Any
) -> Category:
    _require_draft(category.version)
    changes: dict[str, Any] = {}
    if "name" in fields:
        name = _check_text(fields["name"], "name", limit=LIMITS.category_name)
        if (
            Category.objects.filter(version=category.version_id, name=name)
            .exclude(pk=category.pk)
            .exists()
        ):
            raise ConstitutionError(f"Another category is already called {name!r}.", field="name")
        changes["name"] = name
    if "description" in fields:
        changes["description"] = _check_text(fields["description"], "description", required=False)
    if "weight" in fields:
        changes["weight"] = _check_weight(fields["weight"])
    if "priority" in fields:
        changes["priority"] = _check_priority(fields["priority"])
    diff = _diff_fields(category, changes)
    label = f"category {category.name!r}"
    _locked_update(category, expected_row_version, changes, label)
    if diff:
        _record(
            category.version,
            user,
            "category_update",
            f"Changed {label}: "
            + ", ".join(f"{k} {a!r} → {b!r}" for k, (a, b) in diff.items() if k != "description")
            or f"Changed {label}",
            {"changes": diff},
        )
    return category


@transaction.atomic
def category_delete(*, category: Category, user, expected_row_version: int | None) -> None:
    _require_draft(category.version)
    expected = _expected(expected_row_version, f"category {category.name!r}")
    if category.principles.exists():
        raise ConstitutionError(
            f"Category {category.name!r} still has {category.principles.count()} principle(s); move or delete them first."
        )
    deleted, _ = Category.objects.filter(pk=category.pk, row_version=expected).delete()
    if not deleted:
        raise EditConflict(
            f"Category {category.name!r} was changed by someone else; nothing was deleted."
        )
    _record(category.version, user, "category_delete", f"Deleted category {category.name!r}")


# --- principles ---------------------------------------------------------------------

PRINCIPLE_TEXT_FIELDS = ("critique_request", "revision_request", "comparison_question")


def _check_principle_texts(texts: dict[str, str]) -> dict[str, str]:
    """The three texts stripped and checked, each alone and then together
    (``principle_use_problem``: requests in pairs, and some use for the principle)."""
    checked = {
        name: _check_text(texts[name], name, required=False) for name in PRINCIPLE_TEXT_FIELDS
    }
    problem = principle_use_problem(
        checked["critique_request"], checked["revision_request"], checked["comparison_question"]
    )
    if problem is not None:
        field, message = problem
        raise ConstitutionError(f"{field.replace('_', ' ')}: {message}.", field=field)
    return checked


@transaction.atomic
def principle_add(
    *,
    version: ConstitutionVersion,
    user,
    category: Category,
    key: str,
    critique_request: str = "",
    revision_request: str = "",
    comparison_question: str = "",
    weight: float = 1.0,
    enabled: bool = True,
) -> Principle:
    _require_draft(version)
    if category.version_id != version.pk:
        raise ConstitutionError("That category belongs to another version.", field="category")
    key = _check_key(key)
    if version.principles.filter(key=key).exists():
        raise ConstitutionError(
            f"v{version.number} already has a principle with key {key!r}.", field="key"
        )
    order = (version.principles.aggregate(n=Max("order"))["n"] or 0) + 1
    principle = Principle.objects.create(
        version=version,
        category=category,
        key=key,
        **_check_principle_texts(
            {
                "critique_request": critique_request,
                "revision_request": revision_request,
                "comparison_question": comparison_question,
            }
        ),
        weight=_check_weight(weight),
        enabled=bool(enabled),
        order=order,
    )
    _record(
        version,
        user,
        "principle_add",
        f"Added principle {key!r} to {category.name!r}",
        {"key": key, "category": category.name},
    )
    return principle


@transaction.atomic
def principle_update(
    *, principle: Principle, user, expected_row_version: int | None, **fields: Any
) -> Principle:
    version = principle.version
    _require_draft(version)
    changes: dict[str, Any] = {}
    if "key" in fields:
        key = _check_key(fields["key"])
        if Principle.objects.filter(version=version, key=key).exclude(pk=principle.pk).exists():
            raise ConstitutionError(f"Another principle already has key {key!r}.", field="key")
        changes["key"] = key
    if any(name in fields for name in PRINCIPLE_TEXT_FIELDS):
        merged = {
            name: fields.get(name, getattr(principle, name)) for name in PRINCIPLE_TEXT_FIELDS
        }
        checked = _check_principle_texts(merged)
        changes.update({name: checked[name] for name in PRINCIPLE_TEXT_FIELDS if name in fields})
    if "weight" in fields:
        changes["weight"] = _check_weight(fields["weight"])
    if "enabled" in fields:
        changes["enabled"] = bool(fields["enabled"])
    if "category" in fields:
        category = fields["category"]
        if category.version_id != version.pk:
            raise ConstitutionError("That category belongs to another version.", field="category")
        changes["category"] = category
    before = {
        k: (getattr(principle, k).name if k == "category" else getattr(principle, k))
        for k in changes
    }
    label = f"principle {principle.key!r}"
    _locked_update(principle, expected_row_version, changes, label)
    after = {
        k: (getattr(principle, k).name if k == "category" else getattr(principle, k))
        for k in changes
    }
    diff = {k: [before[k], after[k]] for k in changes if before[k] != after[k]}
    if diff:
        short = ", ".join(
            f"{k} {before[k]!r} → {after[k]!r}"
            if k in ("weight", "enabled", "key", "category")
            else f"{k} edited"
            for k in diff
        )
        _record(
            version,
            user,
            "principle_update",
            f"Changed {label}: {short}",
            {"key": principle.key, "changes": diff},
        )
    return principle


@transaction.atomic
def principle_delete(*, principle: Principle, user, expected_row_version: int | None) -> None:
    _require_draft(principle.version)
    expected = _expected(expected_row_version, f"principle {principle.key!r}")
    deleted, _ = Principle.objects.filter(pk=principle.pk, row_version=expected).delete()
    if not deleted:
        raise EditConflict(
            f"Principle {principle.key!r} was changed by someone else; nothing was deleted."
        )
    _record(
        principle.version,
        user,
        "principle_delete",
        f"Deleted principle {principle.key!r}",
        {"key": principle.key},
    )


@transaction.atomic
def principle_move(
    *, principle: Principle, user, direction: str, expected_row_version: int | None
) -> Principle:
    """Swap a principle with its neighbour in the same category (``up`` or ``down``)."""
    _require_draft(principle.version)
    if direction not in ("up", "down"):
        raise ConstitutionError("direction must be 'up' or 'down'.")
    label = f"principle {principle.key!r}"
    expected = _expected(expected_row_version, label)
    if not Principle.objects.filter(pk=principle.pk, row_version=expected).exists():
        raise EditConflict(f"{label} was changed by someone else; it was not moved.")
    siblings = Principle.objects.filter(
        version=principle.version_id, category=principle.category_id
    )
    if direction == "up":
        neighbour = siblings.filter(order__lt=principle.order).order_by("-order", "-pk").first()
    else:
        neighbour = siblings.filter(order__gt=principle.order).order_by("order", "pk").first()
    if neighbour is None:
        return principle
    a, b = principle.order, neighbour.order
    Principle.objects.filter(pk=principle.pk).update(order=b, row_version=F("row_version") + 1)
    Principle.objects.filter(pk=neighbour.pk).update(order=a, row_version=F("row_version") + 1)
    principle.refresh_from_db()
    _record(
        principle.version, user, "principle_move", f"Moved principle {principle.key!r} {direction}"
    )
    return principle


# --- few-shot examples --------------------------------------------------------------


@transaction.atomic
def few_shot_add(*, version: ConstitutionVersion, user, **fields: str) -> FewShotExample:
    _require_draft(version)
    values = {name: _check_text(fields.get(name, ""), name) for name in FEW_SHOT_FIELDS}
    order = (version.few_shots.aggregate(n=Max("order"))["n"] or 0) + 1
    example = FewShotExample.objects.create(version=version, order=order, **values)
    _record(version, user, "few_shot_add", f"Added a few-shot example ({values['prompt'][:40]!r})")
    return example


@transaction.atomic
def few_shot_update(
    *, example: FewShotExample, user, expected_row_version: int | None, **fields: str
) -> FewShotExample:
    _require_draft(example.version)
    changes = {name: _check_text(fields[name], name) for name in FEW_SHOT_FIELDS if name in fields}
    _locked_update(example, expected_row_version, changes, "this few-shot example")
    _record(
        example.version,
        user,
        "few_shot_update",
        f"Edited a few-shot example ({example.prompt[:40]!r})",
    )
    return example


@transaction.atomic
def few_shot_delete(*, example: FewShotExample, user, expected_row_version: int | None) -> None:
    _require_draft(example.version)
    expected = _expected(expected_row_version, "this few-shot example")
    if not FewShotExample.objects.filter(pk=example.pk, row_version=expected).delete()[0]:
        raise EditConflict(
            "This few-shot example was changed by someone else; nothing was deleted."
        )
    _record(
        example.version,
        user,
        "few_shot_delete",
        f"Deleted a few-shot example ({example.prompt[:40]!r})",
    )


# --- import -------------------------------------------------------------------------


@transaction.atomic
def constitution_import(
    *,
    team: Team,
    user,
    name: str,
    description: str,
    content: ConstitutionContent,
    into: Constitution | None = None,
    source: str = "file",
) -> ConstitutionVersion:
    """Import content as a new constitution (v1 draft) or as a new draft of ``into``."""
    problems = validate_content(content)
    if problems:
        raise ContentError(problems)
    if into is None:
        version = constitution_create(
            team=team,
            user=user,
            name=name,
            description=description,
            content=content,
            changelog=f"Imported from {source}",
        )
        _record(
            version, user, "import", f"Imported {len(content.principles)} principles from {source}"
        )
        return version
    constitution = Constitution.objects.select_for_update().get(pk=into.pk)
    latest = constitution.versions.order_by("-number").first()
    version = ConstitutionVersion.objects.create(
        constitution=constitution,
        number=_next_number(constitution),
        parent=latest,
        author=user if user and user.is_authenticated else None,
        changelog=f"Imported from {source}",
    )
    _write_content(version, content)
    _record(
        version,
        user,
        "import",
        f"Imported {len(content.principles)} principles from {source} as draft v{version.number}",
    )
    return version


def is_immutability_error(exc: Exception) -> bool:
    return isinstance(exc, IntegrityError) and "immutable" in str(exc)


# --- principle test cases -----------------------------------------------------------


def _case_values(principle: Principle, fields: dict[str, Any]) -> dict[str, Any]:
    """The case's columns, checked by the content's case rules (``case_problems``)."""
    from .content import CaseSpec
    from .content.validation import CASE_KIND_FIELDS, case_problems

    kind = fields.get("kind", "")
    if kind not in CASE_KIND_FIELDS:
        raise ConstitutionError("kind must be 'labeller' or 'policy'.", field="kind")
    values = {
        name: str(fields.get(name) or "").strip()
        for name in CASE_FIELDS
        if name not in ("principle", "kind")
    }
    # The other kind's fields are dropped, not refused: the editor's form has them all.
    for name in CASE_KIND_FIELDS["policy" if kind == "labeller" else "labeller"]:
        values[name] = ""
    problems = case_problems(CaseSpec(principle=principle.key, kind=kind, **values))
    if problems:
        field, message = problems[0]
        raise ConstitutionError(f"{field.replace('_', ' ')}: {message}.", field=field)
    return {"kind": kind, **values}


@transaction.atomic
def case_add(*, principle: Principle, user, **fields: Any) -> PrincipleCase:
    """Add a test case to a principle of a draft."""
    version = principle.version
    _require_draft(version)
    values = _case_values(principle, fields)
    order = (version.test_cases.aggregate(n=Max("order"))["n"] or 0) + 1
    case = PrincipleCase.objects.create(version=version, principle=principle, order=order, **values)
    _record(
        version,
        user,
        "case_add",
        f"Added a {values['kind']} case to {principle.key!r} ({values['prompt'][:40]!r})",
        {"key": principle.key, "kind": values["kind"]},
    )
    return case


@transaction.atomic
def case_update(
    *, case: PrincipleCase, user, expected_row_version: int | None, **fields: Any
) -> PrincipleCase:
    _require_draft(case.version)
    current = {name: getattr(case, name) for name in CASE_FIELDS if name != "principle"}
    # The kind is fixed once a case exists; fields not given keep their saved text.
    values = _case_values(case.principle, {**current, **fields, "kind": case.kind})
    label = f"this test case of {case.principle.key!r}"
    _locked_update(case, expected_row_version, values, label)
    _record(
        case.version,
        user,
        "case_update",
        f"Edited a {case.kind} case of {case.principle.key!r} ({case.prompt[:40]!r})",
        {"key": case.principle.key},
    )
    return case


@transaction.atomic
def case_delete(*, case: PrincipleCase, user, expected_row_version: int | None) -> None:
    _require_draft(case.version)
    expected = _expected(expected_row_version, f"this test case of {case.principle.key!r}")
    if not PrincipleCase.objects.filter(pk=case.pk, row_version=expected).delete()[0]:
        raise EditConflict("This test case was changed by someone else; nothing was deleted.")
    _record(
        case.version,
        user,
        "case_delete",
        f"Deleted a {case.kind} case of {case.principle.key!r} ({case.prompt[:40]!r})",
        {"key": case.principle.key},
    )


# --- the team's publish rule ----------------------------------------------------------


def publish_check_rule(team: Team) -> str:
    """What publishing needs from a version's last constitution check (``PublishCheck``)."""
    rule = (
        ConstitutionSettings.objects.filter(team=team)
        .values_list("publish_check", flat=True)
        .first()
    )
    return rule or PublishCheck.OFF


def _publish_check_problem(version: ConstitutionVersion, content_hash: str) -> str | None:
    """Why the team's publish rule refuses ``version`` now, or None."""
    rule = publish_check_rule(version.constitution.team)
    if rule == PublishCheck.OFF:
        return None
    from training.kinds.constitution_check import check_view

    check = check_view(version, content_hash)
    if check is None:
        return (
            "This team requires a constitution check before publishing, and none has "
            f"succeeded on v{version.number}: launch one from the Test cases section."
        )
    if check.stale:
        return (
            f"The last constitution check (run #{check.run.pk}) ran on content "
            f"{check.content_hash[:12]}, and the draft changed since: check it again."
        )
    if rule == PublishCheck.PASSED and not check.all_passed:
        return (
            f"The last constitution check (run #{check.run.pk}) passed {check.passed} of "
            f"{check.total} cases; this team requires every case to pass."
        )
    return None


@transaction.atomic
def constitution_settings_update(*, team: Team, user, publish_check: str) -> ConstitutionSettings:
    """Set the team's publish rule (owners; the view checks the capability)."""
    if publish_check not in PublishCheck.values:
        raise ConstitutionError(
            f"publish check must be one of {', '.join(PublishCheck.values)}.",
            field="publish_check",
        )
    row, _ = ConstitutionSettings.objects.select_for_update().get_or_create(team=team)
    before = row.publish_check
    row.publish_check = publish_check
    row.save(update_fields=["publish_check"])
    if before != publish_check:
        for constitution in team.constitutions.all():
            _record(
                None,
                user,
                "publish_rule",
                f"Publish rule: {PublishCheck(before).label} → {PublishCheck(publish_check).label}",
                constitution=constitution,
            )
    return row
