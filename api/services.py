"""Writes of the API app: tokens (create, revoke, use). Idempotent run starts are
``training.services.run_start_once`` (``Run.idempotency_key``), the browser's mechanism too."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cai_web.errors import DomainError
from cai_web.models import Capability, Team
from cai_web.permissions import membership_for

from .models import ApiToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User


TOKEN_PREFIX = "cai_"
NAME_MAX = ApiToken._meta.get_field("name").max_length or 100
MAX_ACTIVE_TOKENS = 20


class TokenError(DomainError):
    """A token request that cannot be honoured; shown on the settings form as is."""


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def token_create(*, user: User, team: Team, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user`` in ``team``; returns the row and the token, shown once.

    Any member may create tokens for themselves; a token never has more rights than
    its user's role in the team, now or later (the role is read on every request).
    """
    if membership_for(user, team) is None:
        raise TokenError("Only members of the team can create its tokens.")
    name = (name or "").strip()
    if not name:
        raise TokenError("Give the token a name (what will use it).", field="name")
    if len(name) > NAME_MAX:
        raise TokenError(f"The name is longer than {NAME_MAX} characters.", field="name")
    active = ApiToken.objects.filter(user=user, team=team, revoked_at__isnull=True)
    if active.count() >= MAX_ACTIVE_TOKENS:
        raise TokenError(
            f"You already have {MAX_ACTIVE_TOKENS} active tokens in {team.name}; revoke one first.",
            field="name",
        )
    if active.filter(name=name).exists():
        raise TokenError(f"You already have an active token named {name!r}.", field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, team=team, name=name, prefix=raw[:12], digest=token_digest(raw)
    )
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken, user: User) -> ApiToken:
    """Revoke a token: its owner may, and so may a team member who manages members."""
    membership = membership_for(user, token.team_id)
    if token.user_id != user.pk and not (
        membership is not None and membership.can(Capability.MANAGE_MEMBERS)
    ):
        raise TokenError("Only the token's owner or a team owner can revoke it.")
    if token.revoked_at is not None:
        raise TokenError("This token is already revoked.")
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token


@dataclass(frozen=True)
class TokenUse:
    """The outcome of presenting a token: the token (None if unknown or revoked) and,
    when over the rate limit, how many seconds to wait."""

    token: ApiToken | None
    retry_after: int = 0


def token_use(raw: str) -> TokenUse:
    """Look a presented token up, count it against its rate limit and stamp last use.

    The limit is a fixed window per token (``API_RATE_LIMIT`` requests per
    ``API_RATE_WINDOW`` seconds), kept on the token row under a row lock, so it holds
    across every web process and machine that share the database.
    """
    if not raw.startswith(TOKEN_PREFIX):
        return TokenUse(None)
    limit = int(settings.API_RATE_LIMIT)
    window_s = max(1, int(settings.API_RATE_WINDOW))
    now = time.time()
    window = int(now // window_s)
    with transaction.atomic():
        token = (
            ApiToken.objects.select_for_update()
            .select_related("user", "team")
            .filter(digest=token_digest(raw), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            return TokenUse(None)
        count = token.window_count + 1 if token.window == window else 1
        if limit and count > limit:
            return TokenUse(token, retry_after=max(1, int((window + 1) * window_s - now)))
        ApiToken.objects.filter(pk=token.pk).update(
            window=window, window_count=count, last_used_at=timezone.now()
        )
    return TokenUse(token)
