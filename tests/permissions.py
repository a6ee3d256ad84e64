"""The permission-matrix helper: one URL and method, tried by each member of the cast.

A :class:`Case` names the URL (its ``name`` as in ``urls.py``), how to build it and its
data from the test's world, and the status each role must get. :func:`assert_case`
makes the real requests through Django's test client, one role at a time, each
inside a savepoint rolled back afterwards, so every role meets the same world (the
author's delete does not leave the owner a 404).

The roles: ``anonymous`` (not signed in), ``outsider`` (a member of another team),
``viewer``, ``auditor``, ``author``, ``owner`` (members of the world's team).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.test import Client

CAST = ("anonymous", "outsider", "viewer", "auditor", "author", "owner")

World = Mapping[str, Any]


def expect(
    anonymous: int, outsider: int, viewer: int, auditor: int, author: int, owner: int
) -> dict[str, int]:
    """The status each role must get, in the order of :data:`CAST`."""
    return dict(zip(CAST, (anonymous, outsider, viewer, auditor, author, owner), strict=True))


# The usual shapes.          anonymous outsider viewer auditor author owner
OPEN = expect(200, 200, 200, 200, 200, 200)
EVERYONE_REDIRECTED = expect(302, 302, 302, 302, 302, 302)
READ = expect(302, 404, 200, 200, 200, 200)
READ_REDIRECT = expect(302, 404, 302, 302, 302, 302)
WRITE = expect(302, 404, 403, 403, 302, 302)  # authors and owners; done, then redirected
WRITE_FORM = expect(302, 404, 403, 403, 200, 200)
REVIEW = expect(302, 404, 403, 200, 403, 200)  # auditors and owners
REVIEW_WRITE = expect(302, 404, 403, 302, 403, 302)
OWNER_FORM = expect(302, 404, 403, 403, 403, 200)
OWNER_ONLY = expect(302, 404, 403, 403, 403, 302)
STAFF_ONLY = expect(302, 302, 302, 302, 302, 302)  # the admin sends non-staff to its login


def with_status(expected: Mapping[str, int], **changes: int) -> dict[str, int]:
    """``expected`` with some roles' statuses changed (``with_status(WRITE, author=400)``)."""
    unknown = set(changes) - set(CAST)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; the cast is {CAST}")
    return {**expected, **changes}


def _no_data(world: World) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Case:
    """One row of a permission matrix."""

    name: str  # the URL name (namespaced ones as "admin:index")
    method: str  # "get" or "post"
    url: Callable[[World], str]
    expected: Mapping[str, int]
    data: Callable[[World], dict[str, Any]] = _no_data
    htmx: bool = False
    label: str = ""  # tells apart two rows of one name and method
    login_pages: tuple[str, ...] = field(default=("/accounts/login/",))

    def __post_init__(self) -> None:
        if self.htmx and self.expected["anonymous"] != 200:
            raise ValueError(f"{self.id}: htmx gets 200 + HX-Redirect to the login page")
        if set(self.expected) != set(CAST):
            raise ValueError(f"{self.id}: give a status for each of {CAST}")
        if self.method not in ("get", "post"):
            raise ValueError(f"{self.id}: method must be get or post")

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.label or self.name}{' (htmx)' if self.htmx else ''}"


def client_as(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def request_as(case: Case, world: World, role: str) -> Any:
    """The response ``role`` gets for ``case`` (the world's ``role`` entry is the user)."""
    client = client_as(None if role == "anonymous" else world[role])
    headers = {"HX-Request": "true"} if case.htmx else {}
    return getattr(client, case.method)(case.url(world), case.data(world), headers=headers)


def check_case(case: Case, world: World) -> list[str]:
    """What went against the matrix for ``case``, one line per role; empty if nothing."""
    failures = []
    for role in CAST:
        with transaction.atomic():
            response = request_as(case, world, role)
            transaction.set_rollback(True)
        expected = case.expected[role]
        got = response.status_code
        if got != expected:
            body = response.content.decode(errors="replace")[:300].replace("\n", " ")
            failures.append(f"{case.id} as {role}: {got}, expected {expected} ({body})")
        elif role == "anonymous" and (expected == 302 or case.htmx):
            # htmx is told to reload at the login page (HX-Redirect), a browser redirected.
            location = response.get("HX-Redirect" if case.htmx else "Location", "")
            if not location.startswith(case.login_pages):
                failures.append(f"{case.id} as anonymous: sent to {location!r}, not to log in")
    return failures


def assert_case(case: Case, world: World) -> None:
    """Fail, listing every role that got another status than the matrix says."""
    failures = check_case(case, world)
    assert not failures, "\n".join(failures)


__all__ = [
    "CAST",
    "EVERYONE_REDIRECTED",
    "OPEN",
    "OWNER_FORM",
    "OWNER_ONLY",
    "READ",
    "READ_REDIRECT",
    "REVIEW",
    "REVIEW_WRITE",
    "STAFF_ONLY",
    "WRITE",
    "WRITE_FORM",
    "Case",
    "assert_case",
    "check_case",
    "client_as",
    "expect",
    "request_as",
    "with_status",
]
