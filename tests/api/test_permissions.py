"""Every API operation, tried with each member's token (the API's permission matrix).

The same cast and statuses as the browser's matrix (``tests/permissions.expect``), with
the API's answers: no token 401 (not a redirect to the login page), an outsider's token
404, a missing capability 403, a refused request 422. Each role's request is rolled back
before the next one's, as in ``tests.permissions.check_case``.
``test_the_matrix_covers_every_operation`` fails when an operation of the schema has no row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from api.v1 import api
from constitutions.content import DEMO_CONSTITUTION
from constitutions.formats import export_json
from labelling.formats import export_jsonl
from tests.factories import label_records
from tests.permissions import CAST, expect

# anonymous outsider viewer auditor author owner
READ = expect(401, 404, 200, 200, 200, 200)
WRITE = expect(401, 404, 403, 403, 200, 200)
CREATE = expect(401, 404, 403, 403, 201, 201)
REFUSED = expect(401, 404, 403, 403, 422, 422)  # allowed, but the service says no
REVIEW = expect(401, 404, 403, 200, 403, 200)
REVIEW_CREATE = expect(401, 404, 403, 201, 403, 201)
OWN = expect(401, 200, 200, 200, 200, 200)  # about the caller's own teams

V = "/api/v1/teams/{slug}"


@dataclass(frozen=True)
class ApiCase:
    method: str
    path: str  # the schema's path, with {slug} / {pk} / {path}
    url: Callable[[Mapping[str, Any]], str]
    expected: Mapping[str, int]
    body: Callable[[Mapping[str, Any]], dict[str, Any]] = lambda w: {}
    multipart: bool = False
    headers: Callable[[Mapping[str, Any]], dict[str, str]] = lambda w: {}
    label: str = ""

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.label or self.path}"


def _u(template: str, **keys: str) -> Callable[[Mapping[str, Any]], str]:
    """``template`` filled with the world's slug and the pks of its objects ``keys``."""

    def build(w: Mapping[str, Any]) -> str:
        values = {name: w[key].pk for name, key in keys.items()}
        return template.format(slug=w["slug"], **values)

    return build


def _etag(key: str) -> Callable[[Mapping[str, Any]], dict[str, str]]:
    return lambda w: {"If-Match": f'"rv{type(w[key]).objects.get(pk=w[key].pk).row_version}"'}


def _constitution_files(w):
    text = export_json(DEMO_CONSTITUTION, name="Imported by API")
    return {"files": [SimpleUploadedFile("c.json", text.encode())]}


def _prompt_file(w):
    return {"name": "api prompts", "file": SimpleUploadedFile("p.txt", b"one\ntwo\nthree\n")}


def _label_file(w):
    data = export_jsonl(label_records(n=3, judge="api-judge")).encode()
    return {"name": "api labels", "fmt": "jsonl", "file": SimpleUploadedFile("l.jsonl", data)}


def _run_body(w):
    return {
        "kind": "critique_revision",
        "inputs": {
            "version": w["published"].pk,
            "prompt_set": w["prompt_set"].pk,
            "model": w["model"].pk,
            "prompt_selection": "all",
        },
        "config": w["run"].config | {"rounds": 1},
    }


# fmt: off
MATRIX: list[ApiCase] = [
    ApiCase("get", "/api/v1/teams", lambda w: "/api/v1/teams", OWN),
    ApiCase("get", V, _u(V), READ),
    ApiCase("get", V + "/constitutions", _u(V + "/constitutions"), READ),
    ApiCase("get", V + "/constitutions/{pk}", _u(V + "/constitutions/{pk}", pk="constitution"), READ),
    ApiCase("post", V + "/constitutions", _u(V + "/constitutions"), CREATE,
            _constitution_files, multipart=True),
    ApiCase("post", V + "/constitutions/{pk}/versions",
            _u(V + "/constitutions/{pk}/versions", pk="constitution"), CREATE,
            _constitution_files, multipart=True),
    ApiCase("get", V + "/versions/{pk}", _u(V + "/versions/{pk}", pk="draft"), READ),
    ApiCase("patch", V + "/versions/{pk}", _u(V + "/versions/{pk}", pk="draft"), WRITE,
            lambda w: {"changelog": "via the API"}, headers=_etag("draft")),
    ApiCase("post", V + "/versions/{pk}/publish", _u(V + "/versions/{pk}/publish", pk="draft"),
            WRITE, lambda w: {"changelog": "ok"}),
    # The world's published v1 already has a draft (v2): that one is returned (200).
    ApiCase("post", V + "/versions/{pk}/draft", _u(V + "/versions/{pk}/draft", pk="published"),
            WRITE),
    ApiCase("get", V + "/versions/{pk}/export", _u(V + "/versions/{pk}/export?format=yaml",
            pk="published"), READ),
    ApiCase("patch", V + "/principles/{pk}", _u(V + "/principles/{pk}", pk="principle"), WRITE,
            lambda w: {"weight": 2.5}, headers=_etag("principle")),
    ApiCase("get", V + "/run-kinds", _u(V + "/run-kinds"), READ),
    ApiCase("get", V + "/prompt-sets", _u(V + "/prompt-sets"), READ),
    ApiCase("post", V + "/prompt-sets", _u(V + "/prompt-sets"), CREATE, _prompt_file,
            multipart=True),
    ApiCase("get", V + "/prompt-sets/{pk}", _u(V + "/prompt-sets/{pk}", pk="prompt_set"), READ),
    ApiCase("get", V + "/prompt-sets/{pk}/prompts",
            _u(V + "/prompt-sets/{pk}/prompts?split=held_out", pk="prompt_set"), READ),
    ApiCase("get", V + "/models", _u(V + "/models"), READ),
    ApiCase("post", V + "/models", _u(V + "/models"), CREATE,
            lambda w: {"name": "another", "path": w["model_dir"]}),
    ApiCase("get", V + "/runs", _u(V + "/runs?kind=critique_revision"), READ),
    ApiCase("post", V + "/runs", _u(V + "/runs"), CREATE, _run_body),
    ApiCase("get", V + "/runs/{pk}", _u(V + "/runs/{pk}", pk="run"), READ),
    # The world's run succeeded: there is nothing to cancel or resume (the service says so).
    ApiCase("post", V + "/runs/{pk}/cancel", _u(V + "/runs/{pk}/cancel", pk="run"), REFUSED),
    ApiCase("post", V + "/runs/{pk}/resume", _u(V + "/runs/{pk}/resume", pk="run"), REFUSED),
    ApiCase("get", V + "/runs/{pk}/metrics", _u(V + "/runs/{pk}/metrics", pk="run"), READ),
    ApiCase("get", V + "/runs/{pk}/artifacts", _u(V + "/runs/{pk}/artifacts", pk="run"), READ),
    ApiCase("get", V + "/runs/{pk}/artifacts/{path}",
            _u(V + "/runs/{pk}/artifacts/dataset/train.jsonl", pk="run"), READ),
    ApiCase("get", V + "/label-sets", _u(V + "/label-sets"), READ),
    ApiCase("post", V + "/label-sets", _u(V + "/label-sets"), CREATE, _label_file, multipart=True),
    ApiCase("get", V + "/label-sets/{pk}", _u(V + "/label-sets/{pk}", pk="label_set"), READ),
    ApiCase("get", V + "/label-sets/{pk}/statistics",
            _u(V + "/label-sets/{pk}/statistics?by=principle", pk="label_set"), READ),
    ApiCase("get", V + "/label-sets/{pk}/export",
            _u(V + "/label-sets/{pk}/export?format=csv", pk="label_set"), READ),
    ApiCase("post", V + "/label-sets/{pk}/decision", _u(V + "/label-sets/{pk}/decision",
            pk="label_set"), REVIEW, lambda w: {"action": "reject", "reason": "not yet"}),
    ApiCase("post", V + "/label-sets/{pk}/queues", _u(V + "/label-sets/{pk}/queues",
            pk="label_set"), REVIEW_CREATE, lambda w: {"strategy": "uniform", "sample_size": 2}),
    ApiCase("get", V + "/queues/{pk}", _u(V + "/queues/{pk}", pk="queue"), READ),
]
# fmt: on


def request(client, case: ApiCase, world) -> Any:
    url = case.url(world)
    headers = case.headers(world)
    if case.method == "get":
        return client.get(url, headers=headers)
    body = case.body(world)
    send = getattr(client, case.method)
    if case.multipart:
        return send(url, body, headers=headers)
    return send(url, json.dumps(body), content_type="application/json", headers=headers)


@pytest.mark.parametrize("case", MATRIX, ids=[c.id for c in MATRIX])
def test_every_operation_answers_each_member_of_the_cast_as_the_matrix_says(world, api_as, case):
    failures = []
    for role in CAST:
        with transaction.atomic():
            response = request(api_as(role), case, world)
            transaction.set_rollback(True)
        got, expected = response.status_code, case.expected[role]
        if got != expected:
            body = b"".join(response.streaming_content) if response.streaming else response.content
            failures.append(f"{case.id} as {role}: {got}, expected {expected} ({body[:300]!r})")
        elif got >= 400:
            problem = response.json()
            assert response["Content-Type"] == "application/problem+json", case.id
            assert problem["status"] == got and problem["detail"], (case.id, problem)
    assert not failures, "\n".join(failures)


def test_the_matrix_covers_every_operation():
    schema = api.get_openapi_schema()
    served = {(m, p) for p, ops in schema["paths"].items() for m in ops}
    tried = {(c.method, c.path) for c in MATRIX}
    assert served - tried == set(), "operations the matrix does not try (add rows to MATRIX)"
    assert tried - served == set(), "MATRIX rows for operations that no longer exist"
