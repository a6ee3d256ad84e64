"""Teams the caller can see, with the caller's role and capabilities."""

from typing import TYPE_CHECKING, cast

from django.http import HttpRequest
from ninja import Router, Schema

from cai_web.models import ROLE_CAPABILITIES, Team
from cai_web.permissions import membership_for, teams_of

from ..auth import request_token, team_access
from .common import ERRORS

if TYPE_CHECKING:
    from django.contrib.auth.models import User

router = Router(tags=["teams"])


class TeamOut(Schema):
    slug: str
    name: str
    role: str
    capabilities: list[str]
    min_audit_agreement: float
    min_audit_reviews: int


def team_out(request: HttpRequest, team: Team) -> TeamOut:
    membership = membership_for(request.user, team)
    assert membership is not None
    return TeamOut(
        slug=team.slug,
        name=team.name,
        role=membership.role,
        capabilities=sorted(ROLE_CAPABILITIES[membership.role]),
        min_audit_agreement=team.min_audit_agreement,
        min_audit_reviews=team.min_audit_reviews,
    )


@router.get("/teams", response={200: list[TeamOut], **ERRORS})
def team_list(request: HttpRequest) -> list[TeamOut]:
    """The teams the caller may use: a token's own team, or every team of the session's user."""
    token = request_token(request)
    # The API's auth let in a token or a signed-in session, so a user is known here.
    user = cast("User", request.user)
    teams = [token.team] if token is not None else list(teams_of(user))
    return [team_out(request, t) for t in teams if membership_for(request.user, t)]


@router.get("/teams/{slug}", response={200: TeamOut, **ERRORS})
def team_detail(request: HttpRequest, slug: str) -> TeamOut:
    team, _ = team_access(request, slug)
    return team_out(request, team)
