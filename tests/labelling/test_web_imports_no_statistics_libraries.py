"""Pages that compute no statistics load no statistics library: checked in a fresh interpreter.

The web's first request used to cost ~2.2 s, 1.7 s of it statsmodels, scipy and
pandas imported through ``labelling.views → charts → stats``. A fresh process (the
state gunicorn starts in) renders the dashboard, a constitution, the runs list and
a review item, then says which heavy modules it holds. ``tests/training/
test_web_never_imports_torch.py`` checks the training pages for torch the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

HEAVY = ("statsmodels", "scipy", "pandas", "torch", "transformers")

SCRIPT = r"""
import json, sys
import cai_web.wsgi  # noqa: F401  (sets Django up like gunicorn does)
from django.core.management import call_command
call_command("migrate", verbosity=0)

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from cai_web.models import Membership, Team
from constitutions import services as cs
from constitutions.content import DEMO_CONSTITUTION
from labelling import services as ls
from labelling.formats import LabelRecord

HEAVY = json.loads(sys.argv[1])
user = get_user_model().objects.create_user("w", password="x")
team = Team.objects.create(name="T", slug="t")
Membership.objects.create(team=team, user=user, role="owner")
version = cs.constitution_create(team=team, user=user, name="C", content=DEMO_CONSTITUTION)
records = [
    LabelRecord(id=f"r{i}", prompt=f"Question {i}?", response_a=f"Answer alpha {i}",
                response_b=f"Answer beta {i}", judge="j", verdict_ab="a", verdict_ba="b" if i % 2 else "a",
                p_a_ab=0.8, p_a_ba=0.3 + 0.1 * i)
    for i in range(4)
]
label_set = ls.labelset_create_from_pairs(team=team, user=user, name="L", records=records)
queue = ls.queue_create(label_set=label_set, user=user, strategy="uniform", sample_size=4, seed=1)

client = Client()
client.force_login(user)
pages = {
    "team_dashboard": reverse("team_dashboard", args=[team.slug]),
    "constitution_list": reverse("constitution_list", args=[team.slug]),
    "constitution_detail": reverse("constitution_detail", args=[version.constitution_id]),  # to its draft
    "version_detail": reverse("version_detail", args=[version.pk]),
    "run_list": reverse("run_list", args=[team.slug]),
    "labelset_list": reverse("labelset_list", args=[team.slug]),
    "queue_detail": reverse("queue_detail", args=[team.slug, queue.pk]),
    "queue_create": reverse("queue_create", args=[team.slug, label_set.pk]),
    "review_item": reverse("review_item", args=[team.slug, queue.pk, 1]),
}
codes = {name: client.get(url, follow=True).status_code for name, url in pages.items()}
codes["review_item_htmx"] = client.get(pages["review_item"], HTTP_HX_REQUEST="true").status_code
codes["review_submit"] = client.post(pages["review_item"], {"choice": "first"}).status_code
codes["review_revealed"] = client.get(pages["review_item"]).status_code
heavy_before = sorted(m for m in HEAVY if m in sys.modules)
# The statistics page computes statistics: there the libraries load, on demand.
codes["labelset_stats"] = client.get(reverse("labelset_stats", args=[team.slug, label_set.pk])).status_code
loaded_for_stats = sorted(m for m in ("statsmodels", "scipy") if m in sys.modules)
print(json.dumps({"codes": codes, "heavy": heavy_before, "loaded_for_stats": loaded_for_stats}))
"""


def test_pages_that_compute_no_statistics_import_no_statistics_library(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CAI_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "DJANGO_SETTINGS_MODULE": "cai_web.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(HEAVY)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], report
    assert report["codes"] == {
        "team_dashboard": 200,
        "constitution_list": 200,
        "constitution_detail": 200,
        "version_detail": 200,
        "run_list": 200,
        "labelset_list": 200,
        "queue_detail": 200,
        "queue_create": 200,
        "review_item": 200,
        "review_item_htmx": 200,
        "review_submit": 302,
        "review_revealed": 200,
        "labelset_stats": 200,
    }, report
    # scipy loads for the binomial test; statsmodels only for a kappa of >= 50 items
    # (below that the interval is a numpy bootstrap or "too few to say"), and this
    # set has 4 labels.
    assert report["loaded_for_stats"] == ["scipy"], report
