"""Home, team dashboard, members and the health check."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import services
from .forms import InviteForm, RoleForm, TeamForm
from .models import Capability, Membership
from .permissions import require_membership, teams_of
from .web import HtmxHttpRequest, form_error, team_for


@login_not_required
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


def home(request: HtmxHttpRequest) -> HttpResponse:
    teams = list(teams_of(request.user).order_by("name"))
    if len(teams) == 1:
        return redirect("team_dashboard", slug=teams[0].slug)
    return render(request, "cai_web/home.html", {"teams": teams, "form": TeamForm()})


@require_POST
def team_create(request: HtmxHttpRequest) -> HttpResponse:
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            team = services.team_create(name=form.cleaned_data["name"], owner=request.user)
        except services.TeamError as exc:
            messages.error(request, str(exc))
        else:
            return redirect("team_dashboard", slug=team.slug)
    return redirect("home")


def team_dashboard(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team, membership = team_for(request, slug)
    from .dashboard import dashboard_panels

    return render(
        request,
        "cai_web/dashboard.html",
        {"team": team, "membership": membership, "panels": dashboard_panels(team, membership)},
    )


@require_http_methods(["GET", "POST"])
def team_members(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team, membership = team_for(request, slug)
    form = InviteForm()
    if request.method == "POST":
        require_membership(request.user, team, Capability.MANAGE_MEMBERS)
        form = InviteForm(request.POST)
        if form.is_valid():
            try:
                services.member_invite(
                    team=team,
                    username=form.cleaned_data["username"],
                    role=form.cleaned_data["role"],
                )
            except services.TeamError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"{form.cleaned_data['username']} joined {team.name}.")
                return redirect("team_members", slug=team.slug)
    members = team.memberships.select_related("user").order_by("user__username")
    return render(
        request,
        "cai_web/members.html",
        {
            "team": team,
            "membership": membership,
            "members": members,
            "form": form,
            "can_manage": membership.can(Capability.MANAGE_MEMBERS),
        },
    )


@require_POST
def member_update(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, _ = team_for(request, slug, Capability.MANAGE_MEMBERS)
    target = get_object_or_404(Membership, pk=pk, team=team)
    try:
        if request.POST.get("action") == "remove":
            services.member_remove(membership=target)
            messages.success(request, f"{target.user.username} was removed.")
        else:
            form = RoleForm(request.POST)
            if not form.is_valid():
                raise services.TeamError("Choose a valid role.")
            services.member_set_role(membership=target, role=form.cleaned_data["role"])
            messages.success(request, f"{target.user.username} is now {target.role}.")
    except services.TeamError as exc:
        messages.error(request, str(exc))
    return redirect("team_members", slug=team.slug)
