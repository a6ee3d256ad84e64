"""The web process must start fast and never load torch: checked in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

SCRIPT = r"""
import json, sys, time
started = time.monotonic()
import cai_web.wsgi  # noqa: F401  (sets Django up like gunicorn does)
startup = time.monotonic() - started
from django.core.management import call_command
call_command("migrate", verbosity=0)

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from cai_web.models import Membership, Team
from constitutions import services as cs
from constitutions.content import DEMO_CONSTITUTION
from training import services
from training.engine.critique_revision import CritiqueRevisionConfig, StageOutput
from training.kinds.critique_revision import DbResultStore
from training.shards import run_settle
from training.models import RunShard

user = get_user_model().objects.create_user("w", password="x")
team = Team.objects.create(name="T", slug="t")
Membership.objects.create(team=team, user=user, role="owner")
version = cs.constitution_create(team=team, user=user, name="C", content=DEMO_CONSTITUTION)
version = cs.version_publish(version=version, user=user, changelog="x")
ps = services.promptset_import(team=team, user=user, name="p", data=b"a\nb\nc\n", filename="p.txt",
                               held_out_fraction=0.0)
model = services.model_register(team=team, user=user, name="m", path=sys.argv[1])
run = services.run_start(kind="critique_revision", team=team, user=user,
                         inputs={"version": version, "prompt_set": ps, "model": model, "prompt_selection": "all"},
                         config=CritiqueRevisionConfig(rounds=1).to_dict(), enqueue=False)
prompt_ids = list(ps.prompts.order_by("index").values_list("id", flat=True))
store = DbResultStore(run, 0, 3, prompt_ids)
p = version.principles.first()
store.save_batch("answer", 0, [StageOutput(i, t, f"Sure: {t}", 3, "stop") for i, t in enumerate("abc")])
store.save_batch("critique", 1, [StageOutput(i, t, "bad", 1, "stop", p.key, p.pk) for i, t in enumerate("abc")])
store.save_batch("revision", 1, [StageOutput(i, t, "I can't help with that.", 5, "stop", p.key, p.pk)
                                 for i, t in enumerate("abc")])
RunShard.objects.filter(run=run).update(status="succeeded")
run_settle(run.pk)

client = Client()
client.force_login(user)
codes = {}
for name, args in [("team_dashboard", [team.slug]), ("run_list", [team.slug]), ("run_detail", [team.slug, run.pk]),
                   ("run_results", [team.slug, run.pk]), ("run_stats", [team.slug, run.pk]),
                   ("promptset_list", [team.slug]), ("promptset_detail", [team.slug, ps.pk]),
                   ("model_list", [team.slug])]:
    codes[name] = client.get(reverse(name, args=args)).status_code
codes["export_trl"] = client.get(reverse("run_export", args=[team.slug, run.pk, "trl.jsonl"])).status_code
codes["htmx_progress"] = client.get(reverse("run_detail", args=[team.slug, run.pk]), HTTP_HX_REQUEST="true").status_code
form = {"version": version.pk, "prompt_set": ps.pk, "prompt_selection": "all", "model": model.pk, "rounds": 1,
        "seed": 0, "batch_size": 4, "shard_size": 2}
for stage in ("answer", "critique", "revision"):
    form.update({f"{stage}_temperature": 0.7, f"{stage}_top_p": 0.95, f"{stage}_max_new_tokens": 8})
form = {f"critique_revision-{k}": v for k, v in form.items()}
codes["launch_page"] = client.get(reverse("run_launch", args=[team.slug, "critique_revision"])).status_code
codes["launch"] = client.post(reverse("run_launch", args=[team.slug, "critique_revision"]), form).status_code
heavy = sorted(m for m in ("torch", "transformers", "vllm", "trl", "datasets") if m in sys.modules)
print(json.dumps({"codes": codes, "heavy": heavy, "startup": startup}))
"""


def test_the_web_process_serves_every_training_page_without_importing_torch(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    env = {
        **os.environ,
        "CAI_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "DJANGO_SETTINGS_MODULE": "cai_web.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(model_dir)],
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
        "run_list": 200,
        "run_detail": 200,
        "run_results": 200,
        "run_stats": 200,
        "promptset_list": 200,
        "promptset_detail": 200,
        "model_list": 200,
        "export_trl": 200,
        "htmx_progress": 286,
        "launch_page": 200,
        "launch": 302,
    }, report
