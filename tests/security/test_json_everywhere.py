"""Every JSON (and YAML) the app reads from someone else goes through cai_web.jsonlimits.

``json.loads`` and ``yaml.safe_load`` recurse and raise RecursionError (a 500, or a
worker's crash) on a document nested a few thousand levels deep; jsonlimits refuses it
with a message naming the problem. This test reads the app's source: a new call of
``json.loads``/``json.load``/``yaml.safe_load``/``yaml.load``/``.json()``/``orjson``/
``ast.literal_eval`` outside jsonlimits fails it unless listed below with the reason it
reads only what the app itself wrote (or catches the recursion itself).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APPS = ("cai_web", "constitutions", "training", "labelling", "api")
CALL = re.compile(
    r"\bjson\.loads?\(|\byaml\.(?:safe_)?load\(|\.json\(\)|\borjson\b|\bujson\b|"
    r"\bliteral_eval\("
)

# (path, the text of the call) -> why it may stay a plain parse.
ALLOWED = {
    ("training/exports.py", "json.loads("): "re-reads the JSONL lines to_trl_jsonl just made",
    ("training/engine/export.py", "json.loads("): "provenance.json, written by the export",
    ("training/engine/trainers/launch.py", "json.loads("): (
        "the trainer subprocess's own metrics and summary files"
    ),
    ("labelling/formats.py", "literal_eval("): (
        "LLMBar's Python-literal results, under a try that catches RecursionError and "
        "MemoryError and reports the record"
    ),
}


def _calls() -> list[tuple[str, int, str]]:
    found = []
    for app in APPS:
        for path in sorted((REPO / app).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel == "cai_web/jsonlimits.py" or "/migrations/" in rel:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                for match in CALL.finditer(code):
                    found.append((rel, number, match.group(0)))
    return found


def test_only_jsonlimits_parses_json_from_outside() -> None:
    calls = _calls()
    unexplained = [
        f"{path}:{number}: {text}" for path, number, text in calls if (path, text) not in ALLOWED
    ]
    assert unexplained == [], (
        "parse it with cai_web.jsonlimits (json_loads, yaml_loads, check_limits), or add it "
        "to ALLOWED with the reason it only reads the app's own files"
    )
    # Every allowance is still used: a stale one would hide a new call in that file.
    used = {(path, text) for path, _, text in calls}
    assert set(ALLOWED) <= used, set(ALLOWED) - used
