"""Create the demo team, one user per role and the project's demo constitution.

Idempotent: running it again changes nothing that exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from cai_web.models import Membership, Role, Team

DEMO_PASSWORD = "demo-password"
DEMO_TEAM = ("Demo Lab", "demo-lab")


class Command(BaseCommand):
    help = "Create the demo team, users (owner, author, auditor, viewer) and demo constitution."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=DEMO_PASSWORD)

    @transaction.atomic
    def handle(self, *args: Any, password: str, **options: Any) -> None:
        from constitutions import services
        from constitutions.content import DEMO_CONSTITUTION

        User = get_user_model()
        team, _ = Team.objects.get_or_create(slug=DEMO_TEAM[1], defaults={"name": DEMO_TEAM[0]})
        users = {}
        for role in Role.values:
            user, created = User.objects.get_or_create(username=role)
            if created:
                # No demo user is staff: the admin sees every team's rows
                # (README: `manage.py createsuperuser` for a staff account).
                user.set_password(password)
                user.save()
            Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})
            users[role] = user
        if not team.constitutions.filter(name="Demo constitution").exists():
            version = services.constitution_create(
                team=team,
                user=users[Role.AUTHOR],
                name="Demo constitution",
                description="A small constitution written for the cai_web demo.",
                content=DEMO_CONSTITUTION,
            )
            services.version_publish(
                version=version, user=users[Role.AUTHOR], changelog="First version."
            )
        for hook in _extra_seeders():
            hook(team=team, users=users, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"demo team {team.name!r} ready"))


def _extra_seeders() -> list[Callable[..., None]]:
    """Seeders that later apps add (prompt sets, models, label sets)."""
    import importlib

    hooks: list[Callable[..., None]] = []
    for name in ("training.demo", "labelling.demo"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        hooks.append(module.seed)
    return hooks
