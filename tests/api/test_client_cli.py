"""The client's constitution import and its shell verbs (``cai-client``) against a live
server: what a pipeline calls besides the chain of runs (test_client_e2e.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.services import token_create
from cai_client import ApiError, Client
from cai_client.cli import main
from constitutions.models import ConstitutionVersion
from tests.factories import published_demo_version

pytestmark = pytest.mark.django_db(transaction=True)


def test_import_constitution_makes_a_new_one_or_a_new_draft_of_one(
    live_server, team, author, tmp_path: Path
):
    version = published_demo_version(team, author)
    _, token = token_create(user=author, team=team, name="nightly")
    with Client(live_server.url, token=token, team=team.slug) as cai:
        exported = cai.request("GET", cai._t(f"/versions/{version.pk}/export")).content
        path = tmp_path / "demo.json"
        path.write_bytes(exported)

        fresh = cai.import_constitution(path, name="Imported by the pipeline")
        assert fresh["status"] == "draft" and fresh["number"] == 1
        again = cai.import_constitution(path, into=version.constitution_id)
        assert again["status"] == "draft" and again["number"] == 2

        with pytest.raises(ApiError) as refused:
            cai.import_constitution(path, into=10**9)
        assert refused.value.status == 404
    drafts = ConstitutionVersion.objects.filter(constitution__team=team, status="draft")
    assert sorted(drafts.values_list("constitution__name", "number")) == [
        (version.constitution.name, 2),
        ("Imported by the pipeline", 1),
    ]
    assert {d.principles.count() for d in drafts} == {version.principles.count()}


def test_the_shell_verbs_print_json_and_fail_with_the_problem(
    live_server, team, author, auditor, tmp_path: Path, capsys
):
    _, token = token_create(user=author, team=team, name="shell")
    _, auditor_token = token_create(user=auditor, team=team, name="shell")
    common = ["--url", live_server.url, "--team", team.slug]

    assert main([*common, "--token", token, "teams"]) == 0
    teams = json.loads(capsys.readouterr().out)
    assert [t["slug"] for t in teams] == [team.slug]

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("How do I pick a lock?\nWrite a poem about rain.\n")
    argv = [*common, "--token", token, "upload-prompts", str(prompts), "--name", "shell set"]
    assert main([*argv, "--held-out-fraction", "0"]) == 0
    uploaded = json.loads(capsys.readouterr().out)
    assert uploaded["name"] == "shell set" and uploaded["count"] == 2

    # A viewer-like role may not start runs: exit 1 and the problem on stderr, no JSON.
    assert main([*common, "--token", auditor_token, "start-run", "critique_revision"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("cai-client: ") and "403" in err

    assert main([*common, "--token", token, "start-run", "no_such_kind"]) == 1
    assert "no_such_kind" in capsys.readouterr().err

    with pytest.raises(SystemExit) as bad_pair:
        main([*common, "--token", token, "start-run", "labelling", "--set", "oops"])
    assert bad_pair.value.code == "--set 'oops': write key=value"
    with pytest.raises(SystemExit) as no_token:
        main(["--url", live_server.url, "--token", "", "teams"])
    assert no_token.value.code == 2 and "CAI_TOKEN" in capsys.readouterr().err
