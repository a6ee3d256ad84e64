"""Personal API tokens (one user, one team). The idempotency keys of run starts live on
the run (``training.models.Run.idempotency_key``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cai_web.models import Team


class ApiToken(models.Model):
    """A personal token: acts as ``user`` inside ``team`` only, with the user's role there.

    Only the SHA-256 of the token is stored (a token is 32 random bytes, so a plain
    hash is enough; a slow password hash would only slow every request). ``prefix``
    is the token's first characters, shown in lists so people can tell tokens apart.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The rate limit's fixed window: its start (epoch seconds // window) and the count.
    window = models.BigIntegerField(default=0)
    window_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "user"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
