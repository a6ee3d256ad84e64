"""Content-Security-Policy (django-csp): every page carries it, and no page needs what it
forbids — no inline <script>, no on* handler attributes, no javascript: URLs — so htmx and
the vendored scripts work under it (htmx's own inline styles and eval are configured off)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.db import transaction

from tests.permissions import client_as
from tests.test_url_coverage import MATRIX, world  # noqa: F401  (the world fixture)

PAGES = [case for case in MATRIX if case.method == "get" and not case.htmx]


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> (inline handler)")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            kind = attributes.get("type", "text/javascript")
            self._in_script = "src" not in attributes and kind not in ("application/json",)
        if tag == "style":
            self.problems.append("<style> element (style-src allows only files)")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]!r}")


@pytest.mark.parametrize("case", PAGES, ids=[c.id for c in PAGES])
def test_every_page_has_the_policy_and_nothing_it_forbids(world, case):  # noqa: F811
    with transaction.atomic():
        response = client_as(world["owner"]).get(case.url(world))
        transaction.set_rollback(True)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        pytest.skip(f"{case.id}: {response.status_code} {response.get('Content-Type')}")
    policy = response["Content-Security-Policy"]
    assert re.search(r"script-src 'self'(;|$)", policy), policy
    assert "unsafe-eval" not in policy and "frame-ancestors 'none'" in policy
    audit = _Audit()
    audit.feed(response.content.decode())
    assert audit.problems == []
    if "htmx" in response.content.decode():
        assert '"includeIndicatorStyles": false' in response.content.decode()
