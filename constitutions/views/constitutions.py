"""Team constitution list, creation, import, history and diff."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from cai_web.models import Capability
from cai_web.permissions import require_membership
from cai_web.web import form_error, team_for

from .. import diff, selectors, services
from ..content import DEFAULT_CATEGORIES, ConstitutionContent, ContentError
from ..diff import PRINCIPLE_TEXT_FIELDS, diff_contents
from ..formats import FormatError, import_constitution
from ..forms import ConstitutionCreateForm, ImportForm, PublishRuleForm
from ..models import ConstitutionVersion, PublishCheck
from .common import EDIT, constitution_for


@require_http_methods(["GET", "POST"])
def constitution_list(request: HttpRequest, slug: str) -> HttpResponse:
    team, membership = team_for(request, slug)
    form = ConstitutionCreateForm()
    status = 200
    if request.method == "POST":
        require_membership(request.user, team, EDIT)
        form = ConstitutionCreateForm(request.POST)
        if form.is_valid():
            try:
                version = services.constitution_create(
                    team=team,
                    user=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    content=ConstitutionContent(categories=DEFAULT_CATEGORIES),
                )
            except services.ConstitutionError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"Created {version.constitution.name} with draft v1.")
                return redirect("version_detail", pk=version.pk)
        status = 422
    return render(
        request,
        "constitutions/constitution_list.html",
        {
            "team": team,
            "membership": membership,
            "constitutions": selectors.constitution_list(team=team),
            "form": form,
            "can_edit": membership.can(EDIT),
            "publish_rule": PublishCheck(services.publish_check_rule(team)),
            "publish_rule_form": PublishRuleForm(
                initial={"publish_check": services.publish_check_rule(team)}
            ),
            "can_manage": membership.can(Capability.MANAGE_MEMBERS),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def constitution_import(request: HttpRequest, slug: str) -> HttpResponse:
    team, membership = team_for(request, slug, EDIT)
    form = ImportForm(team=team)
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, team=team)
        if form.is_valid():
            files = [(f.name, f.read()) for f in form.cleaned_data["files"]]
            try:
                imported = import_constitution(files)
                version = services.constitution_import(
                    team=team,
                    user=request.user,
                    name=form.cleaned_data["name"] or imported.name,
                    description=imported.description,
                    content=imported.content,
                    into=form.cleaned_data["into"],
                    source=", ".join(name for name, _ in files),
                )
            except (FormatError, ContentError) as exc:
                problems = exc.problems
            except services.ConstitutionError as exc:
                if exc.field == "name":
                    form.add_error("name", f"{exc} Choose another name below.")
                else:
                    problems = [str(exc)]
            else:
                for warning in imported.warnings:
                    messages.warning(request, warning)
                messages.success(
                    request,
                    f"Imported {len(imported.content.principles)} principles "
                    f"({imported.source_format}) as {version}.",
                )
                return redirect("version_detail", pk=version.pk)
        # The file's contents are wrong (a bad line, a limit, a malformed file): 400, the
        # request itself cannot be honoured. A form field to correct (a name taken): 422.
        status = 400 if problems else 422
    return render(
        request,
        "constitutions/import.html",
        {"team": team, "membership": membership, "form": form, "problems": problems},
        status=status,
    )


def constitution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    constitution = constitution_for(request, pk)
    latest = constitution.versions.order_by("-number").first()
    if latest is None:
        return redirect("constitution_history", pk=constitution.pk)
    return redirect("version_detail", pk=latest.pk)


def constitution_history(request: HttpRequest, pk: int) -> HttpResponse:
    constitution = constitution_for(request, pk)
    return render(
        request,
        "constitutions/history.html",
        {
            "team": constitution.team,
            "constitution": constitution,
            "events": selectors.history(constitution),
            "versions": selectors.versions_of(constitution),
        },
    )


def constitution_diff(request: HttpRequest, pk: int) -> HttpResponse:
    constitution = constitution_for(request, pk)
    versions = list(selectors.versions_of(constitution))
    by_number = {v.number: v for v in versions}
    context: dict[str, Any] = {
        "team": constitution.team,
        "constitution": constitution,
        "versions": versions,
    }
    if not versions:
        return render(request, "constitutions/diff.html", context)
    b = _pick(request.GET.get("b"), by_number, versions[0])
    default_a = b.parent if b.parent_id in by_number else by_number.get(b.number - 1, b)
    a = _pick(request.GET.get("a"), by_number, default_a)
    old = selectors.version_content(selectors.version_with_content(a.pk))
    new = selectors.version_content(selectors.version_with_content(b.pk))
    context.update(a=a, b=b, diff=diff_contents(old, new))
    context["principle_rows"] = [_principle_diff_row(p) for p in context["diff"].principles]
    context.update(_check_regressions(a, b))
    old_cases = {c.fingerprint() for c in old.test_cases}
    new_cases = {c.fingerprint() for c in new.test_cases}
    context["cases_added"] = [c for c in new.test_cases if c.fingerprint() not in old_cases]
    context["cases_removed"] = [c for c in old.test_cases if c.fingerprint() not in new_cases]
    return render(request, "constitutions/diff.html", context)


def _check_regressions(a: ConstitutionVersion, b: ConstitutionVersion) -> dict[str, Any]:
    """Each version's last constitution check and the cases that passed on ``a``'s and fail
    on ``b``'s (matched by content, so a case copied into the new draft is the same case)."""
    from training.engine.constitution_check import regressions
    from training.kinds.constitution_check import last_check, outcomes_of

    check_a, check_b = last_check(a), last_check(b)
    found = regressions(outcomes_of(check_a), outcomes_of(check_b)) if check_a and check_b else []
    return {"check_a": check_a, "check_b": check_b, "regressions": found}


def _pick(raw: str | None, by_number: dict[int, ConstitutionVersion], default):
    if raw in (None, ""):
        return default
    try:
        return by_number[int(raw)]
    except (ValueError, KeyError):
        raise Http404(f"This constitution has no version {raw!r}.") from None


def segments_html(segments) -> SafeString:
    """Word-diff segments as markup (``diff.segments_html`` escapes every text)."""
    return mark_safe(diff.segments_html(segments))


def _principle_diff_row(p) -> dict[str, Any]:
    texts = [
        (name.replace("_", " "), segments_html(change.segments))
        for name in PRINCIPLE_TEXT_FIELDS
        if (change := p.change(name)) is not None
    ]
    return {"diff": p, "texts": texts}


@require_POST
def constitution_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """The team's publish rule; owners only (the team's rules are theirs to set)."""
    team, _ = team_for(request, slug, Capability.MANAGE_MEMBERS)
    form = PublishRuleForm(request.POST)
    if form.is_valid():
        services.constitution_settings_update(
            team=team, user=request.user, publish_check=form.cleaned_data["publish_check"]
        )
        label = PublishCheck(form.cleaned_data["publish_check"]).label
        messages.success(request, f"Publishing now needs: {label.lower()}.")
    else:
        messages.error(request, "Choose one of the publish rules offered.")
    return redirect("constitution_list", slug=team.slug)
