"""A fuzz test over every form and upload endpoint (issue 12): each POST of the
permission matrix, sent by the team's owner (who may send them all) with its fields
replaced by hostile values, answers below 500, and a refused (4xx) request writes no row.

The endpoints come from ``tests.test_url_coverage.MATRIX`` (every POST row), so a new
form is fuzzed as soon as it has its matrix row. Each example runs in a savepoint rolled
back afterwards, so every example meets the same world.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.permissions import client_as
from tests.test_url_coverage import MATRIX, world  # noqa: F401  (the world fixture)

POSTS = [case for case in MATRIX if case.method == "post" and case.name != "logout"]
APPS = ("cai_web", "constitutions", "training", "labelling", "api")

DEEP_JSON = "[" * 5000 + "]" * 5000
TEXT = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "0",
            str(2**31),
            str(2**63),
            str(-(2**63) - 1),
            "9" * 400,
            "1e309",
            "nan",
            "NaN",
            "inf",
            "-inf",
            "0.5",
            "true",
            '{"x": NaN}',
            DEEP_JSON,
            '{"a": ' * 3000 + "1" + "}" * 3000,
            "x" * 20_000,
            "=cmd|' /C calc'!A0",
            "<script>alert(1)</script>",
            "../../etc/passwd",
            "\u202e\u0000",
        ]
    ),
    st.text(max_size=40),
    st.integers().map(str),
    st.floats().map(str),
)
FILE_BODIES = st.one_of(
    st.sampled_from(
        [
            b"",
            b"\x00\xff\xfe",
            b"\x1f\x8b\x08\x00garbage",
            ('{"prompt": ' + DEEP_JSON + "}\n").encode(),
            b'{"prompt": NaN}\n',
            DEEP_JSON.encode(),
            b"prompt\n" + b'"unterminated\n',
            b"name: [" * 2000,
        ]
    ),
    st.binary(max_size=200),
)


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for name in APPS
        for model in apps.get_app_config(name).get_models()
    }


def _fuzzed(data: dict, draw) -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, SimpleUploadedFile) or (
            isinstance(value, list) and value and isinstance(value[0], SimpleUploadedFile)
        ):
            name = (value[0] if isinstance(value, list) else value).name
            out[key] = SimpleUploadedFile(name, draw(FILE_BODIES))
        elif draw(st.booleans()):
            out[key] = draw(TEXT)
        else:
            out[key] = value
    # Sometimes a field the form does not know, or one missing altogether.
    if draw(st.booleans()) and out:
        out.pop(draw(st.sampled_from(sorted(out))))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("case", POSTS, ids=[c.id for c in POSTS])
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(data=st.data())
def test_every_form_answers_hostile_input_below_500_and_a_refusal_writes_nothing(
    world,  # noqa: F811
    case,
    data,
):
    client = client_as(world["owner"])
    with transaction.atomic():
        before = _row_counts()
        fields = _fuzzed(case.data(world), data.draw)
        response = client.post(case.url(world), fields)
        status = response.status_code
        after = _row_counts() if 400 <= status < 500 else before
        transaction.set_rollback(True)
    assert status < 500, (case.id, {k: str(v)[:80] for k, v in fields.items()})
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert changed == {}, (case.id, status, changed)
