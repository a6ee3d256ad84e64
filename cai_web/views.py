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
from .lockout import lockout_clear, lockouts_for
from .models import Capability, Invitation, Membership
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
    return render(
        request,
        "cai_web/home.html",
        {
            "teams": teams,
            "form": TeamForm(),
            "invitations": services.invitations_for(request.user),
        },
    )


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
        {
            "team": team,
            "membership": membership,
            "panels": dashboard_panels(team, membership),
            "invitations": services.invitations_for(request.user),
        },
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
                    invited_by=request.user,
                )
            except services.TeamError as exc:
                form_error(form, exc)
            else:
                messages.success(
                    request, services.invite_message(form.cleaned_data["username"], team)
                )
                return redirect("team_members", slug=team.slug)
    members = list(team.memberships.select_related("user").order_by("user__username"))
    can_manage = membership.can(Capability.MANAGE_MEMBERS)
    lockouts = lockouts_for([m.user.username for m in members]) if can_manage else {}
    for m in members:
        m.lockout = lockouts.get(m.user.username)  # type: ignore[attr-defined]
    return render(
        request,
        "cai_web/members.html",
        {
            "team": team,
            "membership": membership,
            "members": members,
            "form": form,
            "can_manage": can_manage,
            "invitations": (
                team.invitations.select_related("invitee", "invited_by") if can_manage else []
            ),
        },
        status=400 if form.errors else 200,
    )


@require_POST
def member_update(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, _ = team_for(request, slug, Capability.MANAGE_MEMBERS)
    target = get_object_or_404(Membership, pk=pk, team=team)
    action = request.POST.get("action")
    try:
        if action == "remove":
            services.member_remove(membership=target)
            messages.success(request, f"{target.user.username} was removed.")
        elif action == "unlock":
            lockout_clear(username=target.user.username)
            messages.success(request, f"{target.user.username} can log in again from anywhere.")
        else:
            form = RoleForm(request.POST)
            if not form.is_valid():
                raise services.TeamError("Choose a valid role.")
            services.member_set_role(membership=target, role=form.cleaned_data["role"])
            messages.success(request, f"{target.user.username} is now {target.role}.")
    except services.TeamError as exc:
        messages.error(request, str(exc))
    return redirect("team_members", slug=team.slug)


@require_POST
def invitation_respond(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The invitee accepts or declines (anyone else: 404, as if there were none)."""
    invitation = get_object_or_404(
        Invitation.objects.select_related("team"), pk=pk, invitee=request.user
    )
    team = invitation.team
    if request.POST.get("action") == "accept":
        services.invitation_accept(invitation=invitation, user=request.user)
        messages.success(request, f"You joined {team.name} as {invitation.get_role_display()}.")
        return redirect("team_dashboard", slug=team.slug)
    if request.POST.get("action") == "decline":
        services.invitation_decline(invitation=invitation, user=request.user)
        messages.success(request, f"You declined the invitation to {team.name}.")
        return redirect("home")
    messages.error(request, "Choose accept or decline.")
    return redirect("home")


@require_POST
def invitation_withdraw(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, _ = team_for(request, slug, Capability.MANAGE_MEMBERS)
    invitation = get_object_or_404(Invitation, pk=pk, team=team)
    services.invitation_withdraw(invitation=invitation)
    messages.success(request, "The invitation was withdrawn.")
    return redirect("team_members", slug=team.slug)
