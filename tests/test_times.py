"""Every time a page shows names its zone: the server writes UTC and says so (no
JavaScript needed), static/js/app.js turns it into the viewer's local time with its
zone, and UTC stays on hover. No template formats a time by hand."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from django.template import Context, Template

ROOT = Path(__file__).resolve().parent.parent
WHEN = dt.datetime(2026, 12, 1, 23, 5, 9, tzinfo=dt.UTC)


def test_a_point_in_time_is_written_in_utc_named_and_marked_for_the_local_time() -> None:
    html = Template("{% load times %}{% abstime when %}").render(Context({"when": WHEN}))
    assert html == (
        '<time datetime="2026-12-01T23:05:09+00:00" data-local '
        'title="2026-12-01 23:05:09 UTC">2026-12-01 23:05 UTC</time>'
    )
    other_zone = WHEN.astimezone(dt.timezone(dt.timedelta(hours=-8)))
    assert (
        Template("{% load times %}{% abstime when %}").render(Context({"when": other_zone})) == html
    )
    assert Template("{% load times %}{% abstime none %}").render(Context({"none": None})) == "—"


def test_a_relative_time_keeps_the_exact_utc_time_as_its_title() -> None:
    html = Template("{% load times %}{% reltime when %}").render(Context({"when": WHEN}))
    assert 'data-relative title="2026-12-01 23:05:09 UTC"' in html and " ago</time>" in html


def test_the_script_shows_local_times_with_their_zone() -> None:
    script = (ROOT / "static" / "js" / "app.js").read_text()
    assert 'querySelectorAll("time[data-local]")' in script and 'timeZoneName: "short"' in script


def test_no_template_formats_a_time_without_its_zone() -> None:
    # A clock time formatted by hand, humanize's words, or a bare datetime column.
    by_hand = re.compile(
        r"\|(date|time):[\"'][^\"']*[HGgis][^\"']*[\"']|\|naturaltime|\|timesince|{{ \w+\.[\w.]*_at }}"
    )
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for match in by_hand.finditer(path.read_text())
    ]
    assert offenders == []
