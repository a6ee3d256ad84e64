"""A fuzz test over every upload and import endpoint, the web forms and the API (issue 11,
problem 5): hostile documents — valid files with one value swapped for deep nesting, NaN,
huge numbers, the wrong type; truncated, binary or mis-encoded files — never get a 5xx,
and a refusal writes nothing. Uploads a worker parses (label and prompt files sent from
the browser) run their job too: it fails with a problem it names, never a crash, and
leaves no label or prompt row behind.

Seeds are small real files (the public data in ../shared/data, our own exports); each
example mutates one and sends it to one endpoint. The run is bounded (``settings``
below) so it stays well under a minute on the 2-core CI machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import shared_data_dir

pytestmark = pytest.mark.django_db

APPS = ("cai_web", "constitutions", "training", "labelling", "api")
# Rows an accepted upload may add before its job has run (the job and its upload).
JOB_ROWS = {"labelling.FileJob"}
MARK = "\u0000fuzz\u0000"


def _deep(n: int, kind: str) -> str:
    if kind == "list":
        return "[" * n + "]" * n
    if kind == "dict":
        return '{"a": ' * n + "1" + "}" * n
    return '[{"a": ' * n + "1" + "}]" * n


# Raw JSON fragments put where one value of a valid document was.
HOSTILE = st.one_of(
    st.builds(
        _deep, st.sampled_from([65, 700, 3000, 100_000]), st.sampled_from(["list", "dict", "mix"])
    ),
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-Infinity",
            "1e999",
            "-1e999",
            "9" * 5000,
            "-0",
            "null",
            "true",
            "[]",
            "{}",
            '""',
            '"\\ud800"',
            '"\\u0000"',
            '"' + "x" * 20_000 + '"',
            '{"a": 1, "a": 2}',
        ]
    ),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=10,
    ).map(json.dumps),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replaced(value: Any, path: tuple) -> Any:
    if not path:
        return MARK
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], tuple(rest))}
    return [_replaced(v, tuple(rest)) if i == head else v for i, v in enumerate(value)]


def mutated_json(text: str, draw: Callable[[Any], Any]) -> str:
    """``text`` (one JSON document) with one value, chosen at random, swapped for a hostile one."""
    doc = json.loads(text)
    path = draw(st.sampled_from(_paths(doc)))
    out = json.dumps(_replaced(doc, path), ensure_ascii=False)
    return out.replace(json.dumps(MARK, ensure_ascii=False), draw(HOSTILE), 1)


def body_of(seed: str, jsonl: bool, draw: Callable[[Any], Any]) -> bytes:
    """A hostile file made from ``seed``: one value mutated, or the whole file broken."""
    how = draw(st.sampled_from(["mutate", "mutate", "mutate", "truncate", "bytes", "encoding"]))
    if how == "mutate":
        if jsonl:
            lines = seed.splitlines()
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = mutated_json(lines[i], draw)
            return ("\n".join(lines) + "\n").encode()
        return mutated_json(seed, draw).encode()
    if how == "truncate":
        return seed.encode()[: draw(st.integers(0, len(seed.encode())))]
    if how == "encoding":
        data = seed.encode()
        at = draw(st.integers(0, len(data)))
        return (
            draw(st.sampled_from([b"\xef\xbb\xbf", b""])) + data[:at] + b"\xff\xfe\xc3" + data[at:]
        )
    return draw(
        st.sampled_from([b"", b"\x00" * 10, b"\x1f\x8b\x08\x00garbage"]) | st.binary(max_size=200)
    )


# --- the seeds: small real files -----------------------------------------------------------


def _seeds() -> dict[str, str]:
    from constitutions.content import DEMO_CONSTITUTION
    from constitutions.formats import export_json
    from labelling.formats import export_jsonl
    from tests.factories import label_records

    data = shared_data_dir()
    llmbar = json.loads((data / "judge-eval/llmbar-natural/GPT-4/result.json").read_text())[:2]
    pandalm = json.loads((data / "judge-eval/pandalm-testset-v1.json").read_text())[:2]
    cai = (data / "cai-paper-evals/438HHHEvaluations.jsonl").read_text().splitlines()[:2]
    paper = json.loads(
        (data / "constitutions/anthropic-cai-paper/CritiqueRevisionInstructions.json").read_text()
    )
    swarm = json.loads(
        (data / "constitutions/hf-llm-swarm/constitution_anthropic.json").read_text()
    )
    return {
        "jsonl": export_jsonl(label_records(2)),
        "llmbar": json.dumps(llmbar),
        "pandalm": json.dumps(pandalm),
        "cai_paper": "\n".join(cai) + "\n",
        "prompts": '{"prompt": "How do I pick a lock?"}\n{"prompt": "Is that legal?"}\n',
        "export": export_json(DEMO_CONSTITUTION, name="Fuzzed"),
        "paper": json.dumps(dict(list(paper.items())[:2])),
        "swarm": json.dumps({"constitutions": swarm["constitutions"][:2], "system_chat": []}),
    }


LABEL_FORMATS = ("jsonl", "llmbar", "pandalm", "cai_paper")
CONSTITUTION_FILES = {
    "export": ("c.json", "c.yaml"),
    "paper": ("CritiqueRevisionInstructions.json",),
    "swarm": ("constitution_x.json",),
}


# --- the endpoints ---------------------------------------------------------------------------


def _label_fields(fmt: str) -> dict[str, str]:
    return {"name": "fuzzed", "fmt": fmt, "judge": "judge", "dataset_name": "natural"}


def web_label_import(w, draw):
    fmt = draw(st.sampled_from(LABEL_FORMATS))
    body = body_of(w["seeds"][fmt], fmt in ("jsonl", "cai_paper"), draw)
    fields = {**_label_fields(fmt), "file": SimpleUploadedFile(f"l.{fmt}", body)}
    return "job", w["web"].post(reverse("labelset_import", args=[w["slug"]]), fields)


def web_prompt_upload(w, draw):
    body = body_of(w["seeds"]["prompts"], True, draw)
    fields = {
        "name": "fuzzed",
        "held_out_fraction": "0.1",
        "split_seed": "1",
        "file": SimpleUploadedFile(draw(st.sampled_from(["p.jsonl", "p.txt", "p.csv"])), body),
    }
    return "job", w["web"].post(reverse("promptset_list", args=[w["slug"]]), fields)


def _constitution_files(w, draw) -> list[SimpleUploadedFile]:
    seed = draw(st.sampled_from(sorted(CONSTITUTION_FILES)))
    name = draw(st.sampled_from(CONSTITUTION_FILES[seed]))
    return [SimpleUploadedFile(name, body_of(w["seeds"][seed], False, draw))]


def web_constitution_import(w, draw):
    files = _constitution_files(w, draw)
    return "inline", w["web"].post(
        reverse("constitution_import", args=[w["slug"]]), {"files": files}
    )


def web_model_register(w, draw):
    options = mutated_json('{"temperature": 0.5, "stop": ["x"]}', draw)
    fields = {
        "name": "fuzzed",
        "backend": "transformers",
        "path": w["model_dir"],
        "dtype": "auto",
        "context_length": "2048",
        "options": options,
    }
    return "inline", w["web"].post(reverse("model_list", args=[w["slug"]]), fields)


def api_constitution_import(w, draw):
    files = _constitution_files(w, draw)
    url = draw(
        st.sampled_from(
            [
                f"/api/v1/teams/{w['slug']}/constitutions",
                f"/api/v1/teams/{w['slug']}/constitutions/{w['constitution']}/versions",
            ]
        )
    )
    return "inline", w["api"].post(url, {"files": files})


def api_label_import(w, draw):
    fmt = draw(st.sampled_from(LABEL_FORMATS))
    body = body_of(w["seeds"][fmt], fmt in ("jsonl", "cai_paper"), draw)
    fields = {**_label_fields(fmt), "file": SimpleUploadedFile(f"l.{fmt}", body)}
    return "inline", w["api"].post(f"/api/v1/teams/{w['slug']}/label-sets", fields)


def api_prompt_upload(w, draw):
    body = body_of(w["seeds"]["prompts"], True, draw)
    fields = {"name": "fuzzed", "file": SimpleUploadedFile("p.jsonl", body)}
    return "inline", w["api"].post(f"/api/v1/teams/{w['slug']}/prompt-sets", fields)


def _json_body(seed: dict[str, Any], draw) -> bytes:
    text = json.dumps(seed)
    if draw(st.booleans()):
        return mutated_json(text, draw).encode()
    return body_of(text, False, draw)


def api_model_register(w, draw):
    seed = {"name": "fuzzed", "path": w["model_dir"], "options": {"temperature": 0.5}}
    body = _json_body(seed, draw)
    return "inline", w["api"].post(
        f"/api/v1/teams/{w['slug']}/models", body, content_type="application/json"
    )


def api_run_start(w, draw):
    seed = {
        "kind": "labelling",
        "inputs": {"version": w["version"], "prompt_set": w["prompt_set"], "model": w["model"]},
        "config": {"seed": 1, "k_principles": 1},
    }
    body = _json_body(seed, draw)
    return "inline", w["api"].post(
        f"/api/v1/teams/{w['slug']}/runs", body, content_type="application/json"
    )


def api_principle_patch(w, draw):
    body = _json_body({"weight": 2.0, "comparison_question": "Which is kinder?"}, draw)
    return "inline", w["api"].patch(
        f"/api/v1/teams/{w['slug']}/principles/{w['principle']}",
        body,
        content_type="application/json",
        HTTP_IF_MATCH=w["principle_etag"],
    )


ENDPOINTS = [
    web_label_import,
    web_prompt_upload,
    web_constitution_import,
    web_model_register,
    api_constitution_import,
    api_label_import,
    api_prompt_upload,
    api_model_register,
    api_run_start,
    api_principle_patch,
]


def _row_counts() -> dict[str, int]:
    """Rows in every table of the app's models, in one query (it runs twice an example)."""
    from django.db import connection

    models = [m for name in APPS for m in apps.get_app_config(name).get_models()]
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT {i}, COUNT(*) FROM {quote(m._meta.db_table)}" for i, m in enumerate(models)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {models[i]._meta.label: n for i, n in cursor.fetchall()}


@pytest.fixture
def fuzz_world(team, author, client_for, tmp_path, settings):
    from api.services import token_create
    from constitutions import services as constitutions
    from tests.api.conftest import ApiClient
    from tests.factories import published_demo_version
    from training import services as training

    settings.MODEL_ROOTS = [tmp_path]
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    published = published_demo_version(team, author)
    draft, _ = constitutions.version_draft_from(version=published, user=author)
    principle = draft.principles.order_by("pk").first()
    prompt_set = training.promptset_import(
        team=team, user=author, name="locks", data=b"one\ntwo\n", filename="p.txt"
    )
    model = training.model_register(team=team, user=author, name="tiny", path=str(model_dir))
    _, raw = token_create(user=author, team=team, name="fuzz")
    return {
        "slug": team.slug,
        "web": client_for(author),
        "api": ApiClient(raw),
        "seeds": _seeds(),
        "model_dir": str(model_dir),
        "constitution": published.constitution_id,
        "version": published.pk,
        "prompt_set": prompt_set.pk,
        "model": model.pk,
        "principle": principle.pk,
        "principle_etag": f'"{principle.row_version}"',
    }


def _run_job(response) -> Any:
    from tests.labelling.jobs import run_job

    return run_job(response)


@pytest.mark.usefixtures("shared_data")
@settings(
    max_examples=int(os.environ.get("CAI_FUZZ_EXAMPLES", "80")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_upload_and_import_refuses_hostile_files_below_500_writing_nothing(
    fuzz_world, data
) -> None:
    _check(fuzz_world, data.draw(st.sampled_from(ENDPOINTS)), data.draw)


# The case, pinned: a 2 KB upload of nested brackets in each place JSON arrives.
NESTED_2KB = "[" * 1000 + "]" * 1000


def _nested(w, where: str):
    slug, body = w["slug"], NESTED_2KB.encode()
    if where.startswith("web labels "):
        fmt = where.removeprefix("web labels ")
        fields = {**_label_fields(fmt), "file": SimpleUploadedFile(f"l.{fmt}", body)}
        return "job", w["web"].post(reverse("labelset_import", args=[slug]), fields)
    if where.startswith("api labels "):
        fmt = where.removeprefix("api labels ")
        fields = {**_label_fields(fmt), "file": SimpleUploadedFile(f"l.{fmt}", body)}
        return "inline", w["api"].post(f"/api/v1/teams/{slug}/label-sets", fields)
    if where == "web prompts":
        fields = {"name": "p", "held_out_fraction": "0.1", "split_seed": "1"}
        fields["file"] = SimpleUploadedFile("p.jsonl", body)
        return "job", w["web"].post(reverse("promptset_list", args=[slug]), fields)
    if where == "api prompts":
        fields = {"name": "p", "file": SimpleUploadedFile("p.jsonl", body)}
        return "inline", w["api"].post(f"/api/v1/teams/{slug}/prompt-sets", fields)
    if where == "web constitution":
        files = [SimpleUploadedFile("c.json", body)]
        return "inline", w["web"].post(
            reverse("constitution_import", args=[slug]), {"files": files}
        )
    if where == "api constitution":
        files = [SimpleUploadedFile("c.json", body)]
        return "inline", w["api"].post(f"/api/v1/teams/{slug}/constitutions", {"files": files})
    if where == "web model options":
        fields = {"name": "m", "backend": "transformers", "path": w["model_dir"]}
        fields.update(dtype="auto", context_length="2048", options=NESTED_2KB)
        return "inline", w["web"].post(reverse("model_list", args=[slug]), fields)
    assert where == "api body"
    return "inline", w["api"].post(
        f"/api/v1/teams/{slug}/models", body, content_type="application/json"
    )


NESTED_PLACES = [
    *(f"web labels {fmt}" for fmt in LABEL_FORMATS),
    *(f"api labels {fmt}" for fmt in LABEL_FORMATS),
    "web prompts",
    "api prompts",
    "web constitution",
    "api constitution",
    "web model options",
    "api body",
]


@pytest.mark.usefixtures("shared_data")
@pytest.mark.parametrize("where", NESTED_PLACES)
def test_a_2kb_upload_of_nested_brackets_is_refused_naming_the_nesting(fuzz_world, where):
    with transaction.atomic():
        before = _row_counts()
        mode, response = _nested(fuzz_world, where)
        if mode == "job":
            job = _run_job(response)
            assert job.status == "failed"
            text = " ".join([job.error, *map(str, job.problems)])
        else:
            assert response.status_code in (400, 422), response.content[:300]
            text = response.content.decode()
        changed = {k for k, v in _row_counts().items() if v != before[k]}
        transaction.set_rollback(True)
    assert "nested" in text, text[:500]
    assert changed <= JOB_ROWS


def _check(w: dict[str, Any], endpoint: Callable, draw: Callable) -> None:
    with transaction.atomic():
        before = _row_counts()
        mode, response = endpoint(w, draw)
        status = response.status_code
        detail = response.content[:300]
        after = _row_counts()
        job = None
        if mode == "job" and status == 302:
            added = {k for k in before if after[k] != before[k]}
            assert added <= JOB_ROWS, (endpoint.__name__, added)
            job = _run_job(response)
            after = _row_counts()
        transaction.set_rollback(True)
    assert status < 500, (endpoint.__name__, status, detail)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    if 400 <= status < 500:
        assert changed == {}, (endpoint.__name__, status, changed, detail)
    if job is not None and job.status != "done":
        assert job.status == "failed", (endpoint.__name__, job.status)
        said = " ".join([job.error, *map(str, job.problems)])
        assert said.strip() and "Traceback" not in said and "RecursionError" not in said
        # A failed import leaves only its job behind.
        assert set(changed) <= JOB_ROWS, (endpoint.__name__, changed, job.error)
