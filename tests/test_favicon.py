"""Every page carries the site's icon: the login page (no session) and the error pages
extend the same layout, whose link names an SVG that the static files hold."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_the_login_page_and_a_404_link_the_favicon_and_it_exists(client, client_for, viewer):
    pages = [client.get("/accounts/login/"), client_for(viewer).get("/t/no-such-team/")]
    assert [p.status_code for p in pages] == [200, 404]
    for page in pages:
        link = re.search(
            r'<link rel="icon" href="/static/([^"]+)" type="image/svg\+xml">', page.content.decode()
        )
        assert link, page.content.decode()[:500]
        path = finders.find(link.group(1))
        assert path and open(path, encoding="utf-8").read().lstrip().startswith("<svg")
