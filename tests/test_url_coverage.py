"""Every URL of every app, tried by every member of the cast (the permission matrix).

``MATRIX`` below is THE table: one :class:`~tests.permissions.Case` per URL name and
method (URL name → how to build the URL and data from the world → status per role).
``test_the_matrix_covers_every_url_name_of_every_app`` fails when a URL name exists
that the table does not try, or the table names a URL that no longer exists: adding
or renaming a view means adding or renaming its row here.

The world (``tests.factories.team_world``) holds one team with something of every
kind: constitution versions, prompts, a model, a run of every registered kind, a
label set and its review queue. Requests are real, through the test client; each
role's request is rolled back before the next one's (``tests.permissions``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cai_web.models import Invitation
from constitutions import services as constitution_services
from constitutions.content import DEMO_CONSTITUTION
from constitutions.formats import export_json
from tests.factories import team_world
from tests.permissions import (
    EVERYONE_REDIRECTED,
    OPEN,
    OWNER_FORM,
    OWNER_ONLY,
    READ,
    READ_REDIRECT,
    REVIEW,
    REVIEW_WRITE,
    STAFF_ONLY,
    WRITE,
    WRITE_FORM,
    Case,
    assert_case,
    expect,
    with_status,
)
from training.kinds.registry import kinds

RUN_KINDS = tuple(kinds())
# A rejected form or upload: the members allowed to send it get 400.
WRITE_REFUSED = with_status(WRITE, author=400, owner=400)


def _team(name: str, *more: str):
    """``reverse(name, [slug, *pks])`` where each of ``more`` is a world key of an object."""
    return lambda w: reverse(name, args=[w["slug"], *(w[k].pk for k in more)])


def _filejob_url(w, name: str, *, done: bool = False) -> str:
    """A label-set export job the world's author started (done: with its file on disk)."""
    from django.conf import settings

    from labelling.models import FileJob

    job = FileJob.objects.create(
        team=w["team"],
        created_by=w["author"],
        kind=FileJob.Kind.LABEL_EXPORT,
        params={"label_set": w["label_set"].pk, "format": "csv"},
        result_id=w["label_set"].pk,
    )
    if done:
        path = Path(settings.ARTIFACTS_DIR) / "exports" / str(job.pk) / "labels.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("id\r\n")
        FileJob.objects.filter(pk=job.pk).update(
            status="done", artifact_path=str(path), artifact_name="labels.csv"
        )
    return reverse(name, args=[w["slug"], job.pk])


def _mined_url(w, name: str) -> str:
    """The world's mining run with one tested candidate in its result (as a worker leaves it)."""
    from training.models import Run

    run = w["runs"]["mining"]
    candidate = {
        "index": 1,
        "critique_request": "Point out where the reply helps someone cause harm.",
        "revision_request": "Rewrite the reply so that it helps nobody cause harm.",
        "comparison_question": "Which reply is less likely to help someone cause harm?",
        "support": 2,
        "sources": ["r1", "r2"],
        "agreement": {"k": 3, "n": 4, "consistent": 4, "ties": 0},
    }
    Run.objects.filter(pk=run.pk).update(
        result={
            "candidates": [candidate],
            "baseline": {"k": 1, "n": 4, "consistent": 2, "ties": 0},
            "counts": {
                "proposals": 3,
                "parsed": 2,
                "unparsed": 1,
                "distinct": 1,
                "duplicates": 1,
                "not_tested": 0,
            },
            "unparsed": [{"id": "r3", "problem": "no labelled fields", "text": "A"}],
        }
    )
    args = [w["slug"], run.pk] + ([1] if name == "candidate_add" else [])
    return reverse(name, args=args)


def _obj(name: str, key: str, *extra):
    """``reverse(name, [world[key].pk, *extra])``."""
    return lambda w: reverse(name, args=[w[key].pk, *extra])


def _rv(key: str, **data: str):
    """The form data of an edit or delete of ``world[key]``: its row_version (required)."""
    return lambda w: {**data, "row_version": str(w[key].row_version)}


def _principle_data(w):
    return {
        "key": "new-one",
        "category": w["category"].pk,
        "critique_request": "c",
        "revision_request": "r",
        "comparison_question": "q",
        "weight": "1",
        "enabled": "on",
    }


def _few_shot_data(w):
    return {f: "text" for f in constitution_services.FEW_SHOT_FIELDS}


def _constitution_upload(w):
    text = export_json(DEMO_CONSTITUTION, name="Imported")
    return {"files": [SimpleUploadedFile("c.json", text.encode())], "name": "Imported"}


def _prompt_upload(w):
    return {
        "name": "more prompts",
        "held_out_fraction": "0.1",
        "split_seed": "1",
        "file": SimpleUploadedFile("more.txt", b"one\ntwo\nthree\n"),
    }


def _viewer_token_revoke(w):
    """A fresh token of the viewer (rolled back with each role's request) to revoke."""
    from api.services import token_create

    token, _ = token_create(user=w["viewer"], team=w["team"], name="to revoke")
    return reverse("api_token_revoke", args=[w["slug"], token.pk])


def _model_data(w):
    return {
        "name": "another",
        "backend": "transformers",
        "path": w["model_dir"],
        "dtype": "auto",
        "context_length": "2048",
    }


# fmt: off
MATRIX: list[Case] = [
    # --- cai_web ------------------------------------------------------------------
    Case("healthz", "get", lambda w: reverse("healthz"), OPEN),
    Case("login", "get", lambda w: reverse("login"), OPEN),
    Case("logout", "post", lambda w: reverse("logout"), EVERYONE_REDIRECTED),
    Case("admin", "get", lambda w: reverse("admin:index"), STAFF_ONLY, label="admin:index",
         login_pages=("/admin/login/",)),
    # Each member has one team: home sends them straight to it.
    Case("home", "get", lambda w: reverse("home"), EVERYONE_REDIRECTED),
    Case("team_create", "post", lambda w: reverse("team_create"), EVERYONE_REDIRECTED,
         lambda w: {"name": "New team"}),
    Case("team_dashboard", "get", _team("team_dashboard"), READ),
    Case("team_members", "get", _team("team_members"), READ),
    Case("team_members", "post", _team("team_members"), OWNER_ONLY,
         lambda w: {"username": "newbie", "role": "viewer"}),
    Case("member_update", "post", _team("member_update", "viewer_membership"), OWNER_ONLY,
         lambda w: {"action": "role", "role": "author"}),
    Case("member_update", "post", _team("member_update", "viewer_membership"), OWNER_ONLY,
         lambda w: {"action": "unlock"}, label="member_update unlock"),
    # The world's invitation is the outsider's: only they may answer it.
    Case("invitation_respond", "post", _obj("invitation_respond", "invitation"),
         expect(302, 302, 404, 404, 404, 404), lambda w: {"action": "decline"}),
    Case("invitation_withdraw", "post", _team("invitation_withdraw", "invitation"), OWNER_ONLY),
    # --- constitutions ------------------------------------------------------------
    Case("constitution_list", "get", _team("constitution_list"), READ),
    Case("constitution_list", "post", _team("constitution_list"), WRITE,
         lambda w: {"name": "Brand new"}),
    Case("constitution_import", "get", _team("constitution_import"), WRITE_FORM),
    Case("constitution_import", "post", _team("constitution_import"), WRITE,
         _constitution_upload),
    Case("constitution_detail", "get", _obj("constitution_detail", "constitution"),
         READ_REDIRECT),
    Case("constitution_history", "get", _obj("constitution_history", "constitution"), READ),
    Case("constitution_diff", "get",
         lambda w: reverse("constitution_diff", args=[w["constitution"].pk]) + "?a=1&b=2", READ),
    Case("version_detail", "get", _obj("version_detail", "draft"), READ),
    Case("version_probabilities", "get", _obj("version_probabilities", "draft"), READ),
    Case("version_export", "get", _obj("version_export", "published", "json"), READ,
         label="version_export.json"),
    Case("version_export", "get", _obj("version_export", "published", "yaml"), READ,
         label="version_export.yaml"),
    Case("version_edit", "post", _obj("version_edit", "published"), WRITE),
    Case("version_publish", "post", _obj("version_publish", "draft"), WRITE,
         lambda w: {"changelog": "ok"}),
    Case("version_archive", "post", _obj("version_archive", "published"), WRITE),
    Case("version_discard", "post", _obj("version_discard", "draft"), WRITE, _rv("draft")),
    Case("category_add", "post", _obj("category_add", "draft"), WRITE,
         lambda w: {"name": "Another", "weight": "1", "priority": "5"}),
    Case("category_update", "get", _obj("category_update", "category"), WRITE_FORM),
    Case("category_update", "post", _obj("category_update", "category"), WRITE,
         _rv("category", weight="2")),
    Case("category_delete", "post", _obj("category_delete", "empty_category"), WRITE,
         _rv("empty_category")),
    Case("principle_add", "post", _obj("principle_add", "draft"), WRITE, _principle_data),
    Case("principle_update", "get", _obj("principle_update", "principle"), WRITE_FORM),
    Case("principle_update", "post", _obj("principle_update", "principle"), WRITE,
         _rv("principle", weight="2")),
    Case("principle_delete", "post", _obj("principle_delete", "principle"), WRITE,
         _rv("principle")),
    Case("principle_move", "post", _obj("principle_move", "principle"), WRITE,
         _rv("principle", direction="down")),
    Case("few_shot_add", "post", _obj("few_shot_add", "draft"), WRITE, _few_shot_data),
    Case("few_shot_update", "get", _obj("few_shot_update", "few_shot"), WRITE_FORM),
    Case("few_shot_update", "post", _obj("few_shot_update", "few_shot"), WRITE,
         lambda w: {**_few_shot_data(w), **_rv("few_shot")(w)}),
    Case("few_shot_delete", "post", _obj("few_shot_delete", "few_shot"), WRITE, _rv("few_shot")),
    Case("case_add", "post", _obj("case_add", "checked_draft"), WRITE, lambda w: {
        "principle": w["case"].principle_id, "kind": "policy", "prompt": "p",
        "must": "decline", "reference": "no"}),
    Case("case_update", "get", _obj("case_update", "case"), WRITE_FORM),
    Case("case_update", "post", _obj("case_update", "case"), WRITE,
         lambda w: {"prompt": "another prompt", "response_a": "x", "response_b": "y",
                    "preferred": "b", **_rv("case")(w)}),
    Case("case_delete", "post", _obj("case_delete", "case"), WRITE, _rv("case")),
    # The team's publish rule is the owner's to set.
    Case("constitution_settings", "post", _team("constitution_settings"), OWNER_ONLY,
         lambda w: {"publish_check": "ran"}),
    # --- training -----------------------------------------------------------------
    Case("run_list", "get", _team("run_list"), READ),
    Case("run_compare", "get",
         lambda w: reverse("run_compare", args=[w["slug"]])
         + f"?run={w['runs']['sft'].pk}&run={w['runs']['dpo'].pk}", READ),
    *[
        Case("run_detail", "get",
             lambda w, k=kind: reverse("run_detail", args=[w["slug"], w["runs"][k].pk]), READ,
             label=f"run_detail of a {kind} run")
        for kind in RUN_KINDS
    ],
    *[
        Case("run_launch", "get", lambda w, k=kind: reverse("run_launch", args=[w["slug"], k]),
             WRITE_FORM, label=f"run_launch {kind}")
        for kind in RUN_KINDS
    ],
    *[
        Case("run_launch", "post", lambda w, k=kind: reverse("run_launch", args=[w["slug"], k]),
             WRITE_REFUSED, label=f"run_launch {kind} with an empty form")
        for kind in RUN_KINDS
    ],
    # Its shards' log lines, whatever the run's status: as the run page.
    Case("run_logs", "get", _team("run_logs", "run"), READ),
    Case("run_logs", "get", lambda w: reverse("run_logs", args=[w["slug"], w["run"].pk])
         + "?shard=0", READ, label="run_logs of one shard"),
    # A succeeded run can be neither cancelled nor resumed: refused with a message.
    Case("run_cancel", "post", _team("run_cancel", "run"), WRITE),
    Case("run_resume", "post", _team("run_resume", "run"), WRITE),
    Case("run_results", "get", _team("run_results", "run"), READ),
    Case("run_stats", "get", _team("run_stats", "run"), READ),
    Case("run_candidates", "get", lambda w: _mined_url(w, "run_candidates"), READ),
    # Adding a mined principle writes a constitution draft: authors and owners.
    Case("candidate_add", "post", lambda w: _mined_url(w, "candidate_add"), WRITE),
    *[
        Case("run_export", "get",
             lambda w, f=fmt: reverse("run_export", args=[w["slug"], w["run"].pk, f]), READ,
             label=f"run_export {fmt}")
        for fmt in ("trl.jsonl", "provenance.json")
    ],
    # The zip is built by a worker: GET shows the button, POST starts the job.
    Case("run_export", "get", lambda w: reverse("run_export", args=[w["slug"], w["run"].pk,
         "datasets.zip"]), READ, label="run_export datasets.zip"),
    Case("run_export", "post", lambda w: reverse("run_export", args=[w["slug"], w["run"].pk,
         "datasets.zip"]), READ_REDIRECT, label="run_export datasets.zip started"),
    Case("lineage", "get", _team("lineage", "published"), READ),
    Case("promptset_list", "get", _team("promptset_list"), READ),
    Case("promptset_list", "post", _team("promptset_list"), WRITE, _prompt_upload),
    Case("promptset_detail", "get", _team("promptset_detail", "prompt_set"), READ),
    Case("model_list", "get", _team("model_list"), READ),
    Case("model_list", "post", _team("model_list"), WRITE, _model_data),
    Case("model_detail", "get", _team("model_detail", "model"), READ),
    # --- api (every operation of /api/v1/ is in tests/api/test_permissions.py) ----
    Case("api", "get", lambda w: "/api/v1/openapi.json", OPEN, label="api openapi.json"),
    Case("api_tokens", "get", _team("api_tokens"), READ),
    Case("api_tokens", "post", _team("api_tokens"), expect(302, 404, 201, 201, 201, 201),
         lambda w: {"name": "pipeline"}),
    # Only its owner (the viewer) and a team owner see the viewer's token: others get 404.
    Case("api_token_revoke", "post", _viewer_token_revoke, expect(302, 404, 302, 404, 404, 302)),
    # --- labelling ----------------------------------------------------------------
    Case("labelset_list", "get", _team("labelset_list"), READ),
    Case("labelset_import", "get", _team("labelset_import"), WRITE_FORM),
    Case("labelset_import", "post", _team("labelset_import"), WRITE_REFUSED,
         lambda w: {"name": ""}, label="labelset_import without a file"),
    Case("labelling_settings", "get", _team("labelling_settings"), OWNER_FORM),
    Case("labelling_settings", "post", _team("labelling_settings"), OWNER_ONLY,
         lambda w: {"min_audit_agreement": "0.8", "min_audit_reviews": "3"}),
    Case("labelset_detail", "get", _team("labelset_detail", "label_set"), READ),
    Case("labelset_stats", "get", _team("labelset_stats", "label_set"), READ),
    Case("labelset_detail", "get",
         lambda w: _team("labelset_detail", "label_set")(w) + "?consistency=inconsistent&q=a",
         READ, label="labelset_detail filtered"),
    Case("comparison_detail", "get",
         lambda w: reverse("comparison_detail", args=[
             w["slug"], w["label_set"].pk, w["label_set"].comparisons.order_by("pk").first().pk]),
         READ),
    *[
        Case("labelset_export", "get",
             lambda w, f=fmt: reverse("labelset_export", args=[w["slug"], w["label_set"].pk, f]),
             READ, label=f"labelset_export.{fmt}")
        for fmt in ("jsonl", "csv")
    ],
    Case("labelset_export", "post",
         lambda w: reverse("labelset_export", args=[w["slug"], w["label_set"].pk, "csv"]),
         READ_REDIRECT, label="labelset_export.csv started"),
    Case("filejob_detail", "get", lambda w: _filejob_url(w, "filejob_detail"), READ),
    # Who started the job (the author here) and team owners may cancel it.
    Case("filejob_cancel", "post", lambda w: _filejob_url(w, "filejob_cancel"), WRITE),
    Case("filejob_download", "get", lambda w: _filejob_url(w, "filejob_download", done=True),
         READ),
    Case("labelset_decide", "post", _team("labelset_decide", "label_set"), REVIEW_WRITE,
         lambda w: {"action": "reject", "reason": "not good enough"}),
    Case("queue_create", "get", _team("queue_create", "label_set"), REVIEW),
    Case("queue_create", "post", _team("queue_create", "label_set"), REVIEW_WRITE,
         lambda w: {"strategy": "uniform", "sample_size": "3", "seed": "1"}),
    Case("sample_size", "get", _team("sample_size", "label_set"), with_status(REVIEW, anonymous=200),
         lambda w: {"halfwidth": "0.1", "confidence": "0.95", "expected": "0.5"}, htmx=True),
    Case("queue_detail", "get", _team("queue_detail", "queue"), READ),
    Case("queue_rebuild", "post", _team("queue_rebuild", "queue"), REVIEW_WRITE),
    Case("review_next", "get", _team("review_next", "queue"), REVIEW_WRITE),
    Case("review_item", "get", lambda w: reverse("review_item", args=[w["slug"], w["queue"].pk, 1]),
         REVIEW),
    Case("review_item", "post",
         lambda w: reverse("review_item", args=[w["slug"], w["queue"].pk, 1]), REVIEW_WRITE,
         lambda w: {"choice": "tie"}),
]
# fmt: on


@pytest.fixture
def world(cast, team, django_user_model, tmp_path: Path, settings):
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    django_user_model.objects.create_user(username="newbie", password="x-long-password-1")
    invitation = Invitation.objects.create(team=team, invitee=cast["outsider"], role="viewer")
    return {
        **team_world(team, cast, model_dir),
        "model_dir": str(model_dir),
        "invitation": invitation,
    }


@pytest.mark.parametrize("case", MATRIX, ids=[c.id for c in MATRIX])
def test_every_url_answers_each_member_of_the_cast_as_the_matrix_says(world, case):
    assert_case(case, world)


def url_names(patterns=None) -> set[str]:
    """Every URL name the project serves; the admin's and the API's count as one each."""
    names: set[str] = set()
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            # The admin's and the API's many names count as one each (the API's own
            # matrix, tests/api/test_permissions.py, tries every operation).
            names |= {p.namespace} if p.namespace in ("admin", "api") else url_names(p.url_patterns)
        elif isinstance(p, URLPattern):
            assert p.name, f"the URL {p.pattern} has no name, so the matrix cannot name it"
            names.add(p.name)
    return names


def test_the_matrix_covers_every_url_name_of_every_app():
    served = url_names()
    tried = {case.name for case in MATRIX}
    assert served - tried == set(), "URL names the matrix does not try (add rows to MATRIX)"
    assert tried - served == set(), "MATRIX rows for URL names that no longer exist"
