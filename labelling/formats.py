"""Import and export of AI preference labels (no Django).

* Our JSONL label format (docs/label-format.md): :func:`parse_label_jsonl`,
  :func:`export_jsonl`, :func:`export_csv`.
* Public judge-evaluation sets: :func:`import_llmbar` (princeton-nlp/LLMBar
  ``result.json``) and :func:`import_pandalm` (WeOpenML/PandaLM test set).

Parsers are all-or-nothing: they check every line or record, and on any problem
raise :class:`LabelFormatError` listing all of them; nothing is returned.
"""

from __future__ import annotations

import ast
import gzip
import json
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from cai_web.errors import ProblemsError
from cai_web.jsonlimits import json_loads, nonfinite_at
from cai_web.spreadsheet import write_csv
from labelling.stats import HUMAN_VERDICTS, VERDICTS, PairJudgement

MAX_LABEL_FILE_BYTES = 50 * 1024 * 1024  # whole-document formats (LLMBar, PandaLM), in memory
MAX_IMPORT_BYTES = 2 * 1024**3  # a stored upload (JSONL, gzip or not), read as a stream
MAX_EXPANDED_BYTES = 8 * 1024**3  # what a gzip upload may expand to
REPORTED_PROBLEMS = 100  # problems kept with their line numbers; the rest are counted
GZIP_MAGIC = b"\x1f\x8b"
NO_JUDGE = "none"  # judge name for human-only sets such as PandaLM

REQUIRED_FIELDS = ("id", "prompt", "response_a", "response_b", "judge", "verdict_ab", "verdict_ba")
OPTIONAL_FIELDS = ("p_a_ab", "p_a_ba", "human", "humans", "principle", "metadata")
ALL_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
CSV_COLUMNS = (
    "id",
    "judge",
    "principle",
    "prompt",
    "response_a",
    "response_b",
    "verdict_ab",
    "verdict_ba",
    "p_a_ab",
    "p_a_ba",
    "human",
    "humans",
    "metadata",
)
_SHOWN_PROBLEMS = 20


class LabelFormatError(ProblemsError, ValueError):
    """Raised with every problem found in an upload; ``problems`` holds one line each.

    A :class:`~cai_web.errors.ProblemsError` about the upload's ``file`` field; still a
    ``ValueError`` for plain-Python callers of the parsers. The message shows the first
    problems and how many more there are.
    """

    def __init__(self, problems: Iterable[str], *, field: str | None = "file") -> None:
        super().__init__(problems, field=field)
        shown = "; ".join(self.problems[:_SHOWN_PROBLEMS])
        more = len(self.problems) - _SHOWN_PROBLEMS
        suffix = f"; ... and {more} more" if more > 0 else ""
        self.message = f"{len(self.problems)} problem(s): {shown}{suffix}"
        self.args = (self.message,)


@dataclass(frozen=True)
class HumanLabel:
    """One reviewer's verdict on a pair (a, b, tie or both_bad)."""

    reviewer: str
    verdict: str


@dataclass(frozen=True)
class LabelRecord:
    """One judged pair as stored in the JSONL format; see docs/label-format.md."""

    id: str
    prompt: str
    response_a: str
    response_b: str
    judge: str
    verdict_ab: str | None
    verdict_ba: str | None
    p_a_ab: float | None = None
    p_a_ba: float | None = None
    human: str | None = None
    humans: tuple[HumanLabel, ...] = ()
    principle: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def majority_human(self) -> str | None:
        """``human`` if set, else the verdict a strict majority of ``humans`` gave, else None."""
        if self.human is not None:
            return self.human
        if not self.humans:
            return None
        verdict, count = Counter(h.verdict for h in self.humans).most_common(1)[0]
        return verdict if count * 2 > len(self.humans) else None

    def to_pair_judgement(self, category: str | None = None) -> PairJudgement:
        """The statistics view of this record (human = :meth:`majority_human`)."""
        return PairJudgement(
            verdict_ab=self.verdict_ab,
            verdict_ba=self.verdict_ba,
            p_a_ab=self.p_a_ab,
            p_a_ba=self.p_a_ba,
            human=self.majority_human(),
            principle=self.principle,
            category=category,
            judge=self.judge,
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The JSONL object for this record; optional fields are omitted when unset."""
        out: dict[str, Any] = {
            "id": self.id,
            "prompt": self.prompt,
            "response_a": self.response_a,
            "response_b": self.response_b,
            "judge": self.judge,
            "verdict_ab": self.verdict_ab,
            "verdict_ba": self.verdict_ba,
        }
        if self.p_a_ab is not None:
            out["p_a_ab"] = self.p_a_ab
        if self.p_a_ba is not None:
            out["p_a_ba"] = self.p_a_ba
        if self.human is not None:
            out["human"] = self.human
        if self.humans:
            out["humans"] = [{"reviewer": h.reviewer, "verdict": h.verdict} for h in self.humans]
        if self.principle is not None:
            out["principle"] = self.principle
        if self.metadata:
            out["metadata"] = self.metadata
        return out


# ------------------------------------------------------------------------ validation


def _nonempty_str(obj: dict[str, Any], name: str, problems: list[str]) -> str | None:
    value = obj.get(name)
    if not isinstance(value, str):
        problems.append(f"{name} must be a string, got {_type_name(value)}")
        return None
    if not value.strip():
        problems.append(f"{name} must not be empty")
        return None
    return value


def _text(obj: dict[str, Any], name: str, problems: list[str]) -> str | None:
    # Responses may be empty: a model can answer with nothing, and that answer still
    # gets judged (PandaLM's test set has 54 such responses).
    value = obj.get(name)
    if not isinstance(value, str):
        problems.append(f"{name} must be a string, got {_type_name(value)}")
        return None
    return value


def _verdict(value: Any, name: str, allowed: tuple[str, ...], problems: list[str]) -> str | None:
    if value is None or value in allowed:
        return value
    problems.append(f"{name} must be one of {', '.join(allowed)} or null, got {value!r}")
    return None


def _probability(value: Any, name: str, problems: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{name} must be a number in [0, 1] or null, got {_type_name(value)}")
        return None
    if math.isnan(value):
        problems.append(f"{name} must be a number in [0, 1], got NaN")
        return None
    if not 0.0 <= value <= 1.0:
        problems.append(f"{name} must be in [0, 1], got {value!r}")
        return None
    return float(value)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


_KNOWN_FIELDS = frozenset(ALL_FIELDS)
_VERDICT_OR_NONE = frozenset((*VERDICTS, None))
_HUMAN_OR_NONE = frozenset((*HUMAN_VERDICTS, None))


def _record_fast(obj: Any) -> LabelRecord | None:
    """The well-formed common case checked inline (a million-line import spends most of
    its parsing here); None sends the line to the full check, which says what is wrong.
    Accepts only what :func:`_record_from_object` accepts, and builds the same record."""
    if type(obj) is not dict or not _KNOWN_FIELDS.issuperset(obj):
        return None
    get = obj.get
    rid, prompt, judge = get("id"), get("prompt"), get("judge")
    resp_a, resp_b = get("response_a"), get("response_b")
    if not (
        type(rid) is str
        and type(prompt) is str
        and type(judge) is str
        and type(resp_a) is str
        and type(resp_b) is str
        and rid.strip()
        and prompt.strip()
        and judge.strip()
        and "verdict_ab" in obj
        and "verdict_ba" in obj
        and get("humans") is None
    ):
        return None
    v_ab, v_ba, human = obj["verdict_ab"], obj["verdict_ba"], get("human")
    p_ab, p_ba = get("p_a_ab"), get("p_a_ba")
    principle, metadata = get("principle"), get("metadata")
    try:
        if v_ab not in _VERDICT_OR_NONE or v_ba not in _VERDICT_OR_NONE:
            return None
        if human not in _HUMAN_OR_NONE:
            return None
    except TypeError:  # an unhashable value (a list, an object): not a verdict
        return None
    for p in (p_ab, p_ba):
        if p is not None and not ((type(p) is float or type(p) is int) and 0.0 <= p <= 1.0):
            return None  # NaN fails the range too
    if principle is not None and (type(principle) is not str or not principle.strip()):
        return None
    if metadata is not None and (type(metadata) is not dict or nonfinite_at(metadata)):
        return None
    return LabelRecord(
        id=rid,
        prompt=prompt,
        response_a=resp_a,
        response_b=resp_b,
        judge=judge,
        verdict_ab=v_ab,
        verdict_ba=v_ba,
        p_a_ab=None if p_ab is None else float(p_ab),
        p_a_ba=None if p_ba is None else float(p_ba),
        human=human,
        humans=(),
        principle=principle,
        metadata=metadata or {},
    )


def _record_from_object(obj: Any) -> tuple[LabelRecord | None, list[str]]:
    """Validate one decoded JSON value; returns (record, []) or (None, problems)."""
    fast = _record_fast(obj)
    if fast is not None:
        return fast, []
    if not isinstance(obj, dict):
        return None, [f"expected a JSON object, got {_type_name(obj)}"]
    problems: list[str] = []
    missing = [f for f in REQUIRED_FIELDS if f not in obj]
    if missing:
        problems.append(f"missing field(s): {', '.join(missing)}")
    unknown = sorted(k for k in obj if k not in ALL_FIELDS)
    if unknown:
        problems.append(f"unknown field(s): {', '.join(unknown)}")

    rid = _nonempty_str(obj, "id", problems) if "id" in obj else None
    prompt = _nonempty_str(obj, "prompt", problems) if "prompt" in obj else None
    resp_a = _text(obj, "response_a", problems) if "response_a" in obj else None
    resp_b = _text(obj, "response_b", problems) if "response_b" in obj else None
    judge = _nonempty_str(obj, "judge", problems) if "judge" in obj else None
    v_ab = _verdict(obj.get("verdict_ab"), "verdict_ab", VERDICTS, problems)
    v_ba = _verdict(obj.get("verdict_ba"), "verdict_ba", VERDICTS, problems)
    p_ab = _probability(obj.get("p_a_ab"), "p_a_ab", problems)
    p_ba = _probability(obj.get("p_a_ba"), "p_a_ba", problems)
    human = _verdict(obj.get("human"), "human", HUMAN_VERDICTS, problems)

    humans: list[HumanLabel] = []
    raw_humans = obj.get("humans")
    if raw_humans is not None:
        if not isinstance(raw_humans, list):
            problems.append(f"humans must be a list, got {_type_name(raw_humans)}")
        else:
            seen: set[str] = set()
            for i, h in enumerate(raw_humans):
                if not isinstance(h, dict) or set(h) != {"reviewer", "verdict"}:
                    problems.append(f"humans[{i}] must be an object with reviewer and verdict only")
                    continue
                reviewer, verdict = h["reviewer"], h["verdict"]
                if not isinstance(reviewer, str) or not reviewer.strip():
                    problems.append(f"humans[{i}].reviewer must be a non-empty string")
                    continue
                if verdict not in HUMAN_VERDICTS:
                    problems.append(
                        f"humans[{i}].verdict must be one of {', '.join(HUMAN_VERDICTS)}, "
                        f"got {verdict!r}"
                    )
                    continue
                if reviewer in seen:
                    problems.append(f"humans[{i}]: reviewer {reviewer!r} appears twice")
                    continue
                seen.add(reviewer)
                humans.append(HumanLabel(reviewer=reviewer, verdict=verdict))
    if human is not None and raw_humans:
        problems.append("give either human or humans, not both")

    principle = obj.get("principle")
    if principle is not None and (not isinstance(principle, str) or not principle.strip()):
        problems.append("principle must be a non-empty string or null")
    metadata = obj.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        problems.append(f"metadata must be an object or null, got {_type_name(metadata)}")
    elif metadata and (where := nonfinite_at(metadata)):
        problems.append(f"metadata{where} is NaN or an infinity, which a JSON column cannot store")

    if problems:
        return None, problems
    assert rid is not None and prompt is not None and judge is not None
    assert resp_a is not None and resp_b is not None
    return (
        LabelRecord(
            id=rid,
            prompt=prompt,
            response_a=resp_a,
            response_b=resp_b,
            judge=judge,
            verdict_ab=v_ab,
            verdict_ba=v_ba,
            p_a_ab=p_ab,
            p_a_ba=p_ba,
            human=human,
            humans=tuple(humans),
            principle=principle,
            metadata=metadata or {},
        ),
        [],
    )


def _check_size(data: bytes) -> None:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    if len(data) > MAX_LABEL_FILE_BYTES:
        raise LabelFormatError(
            [f"file is {len(data):,} bytes; the limit is {MAX_LABEL_FILE_BYTES:,} bytes"]
        )


# ----------------------------------------------------------------------------- JSONL


@dataclass
class ProblemLog:
    """Every problem of a big file counted; the first :data:`REPORTED_PROBLEMS` kept."""

    limit: int = REPORTED_PROBLEMS
    shown: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, problem: str) -> None:
        self.count += 1
        if len(self.shown) < self.limit:
            self.shown.append(problem)

    def __bool__(self) -> bool:
        return self.count > 0


def open_upload(path: str | Path) -> tuple[IO[bytes], IO[bytes]]:
    """``(stream, raw)`` for a stored upload: ``stream`` is gunzipped when the file
    starts with gzip's magic bytes; ``raw.tell()`` is how far into the file it is."""
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), raw
    raw.seek(0)
    return raw, raw


def _lines(stream: IO[bytes], problems: ProblemLog) -> Iterator[bytes]:
    """The stream's lines; a gzip stream that is corrupt or cut short ends them with
    a problem (the lines read before it are still checked)."""
    try:
        yield from stream
    except EOFError:
        problems.add("the file is not a complete gzip file (it is truncated)")
    except (gzip.BadGzipFile, zlib.error) as exc:
        problems.add(f"the file is not valid gzip data ({exc})")


def iter_label_jsonl(
    stream: IO[bytes], problems: ProblemLog, *, max_bytes: int = MAX_EXPANDED_BYTES
) -> Iterator[tuple[int, LabelRecord]]:
    """``(line number, record)`` for every good line of a JSONL stream, read line by line.

    Bad lines go to ``problems`` as ``"line N: ..."`` (the same checks as
    :func:`parse_label_jsonl`, duplicates included) and are not yielded; a caller that
    needs all or nothing reads the stream once to check and once to store.
    """
    first_line_of: dict[str, int] = {}
    offset = 0
    for lineno, line in enumerate(_lines(stream, problems), start=1):
        line_offset = offset
        offset += len(line)
        if offset > max_bytes:
            problems.add(f"line {lineno}: the file expands past {max_bytes:,} bytes")
            return
        if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
            line_offset += 3
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.add(f"line {lineno}: not valid UTF-8 at byte offset {line_offset + exc.start}")
            continue
        if not text.strip():
            continue
        try:
            obj = json_loads(text, allow_nan=True)
        except json.JSONDecodeError as exc:
            problems.add(f"line {lineno}: malformed JSON: {exc.msg} at column {exc.colno}")
            continue
        record, errors = _record_from_object(obj)
        for e in errors:
            problems.add(f"line {lineno}: {e}")
        if record is None:
            continue
        first = first_line_of.setdefault(record.id, lineno)
        if first != lineno:
            problems.add(f"line {lineno}: duplicate id {record.id!r} (first on line {first})")
            continue
        yield lineno, record


def parse_label_jsonl(data: bytes) -> list[LabelRecord]:
    """Parse and validate a JSONL label file; all or nothing.

    Blank lines are skipped; a UTF-8 byte-order mark at the start is allowed. Every
    problem is reported as ``"line N: ..."`` (1-based) in one :class:`LabelFormatError`.
    """
    _check_size(data)
    raw = bytes(data)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        base = 3
    else:
        base = 0
    problems: list[str] = []
    records: list[LabelRecord] = []
    first_line_of: dict[str, int] = {}
    offset = base
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        line_offset = offset
        offset += len(line) + 1
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                f"line {lineno}: not valid UTF-8 at byte offset {line_offset + exc.start}"
            )
            continue
        if not text.strip():
            continue
        try:
            obj = json_loads(text, allow_nan=True)
        except json.JSONDecodeError as exc:
            problems.append(f"line {lineno}: malformed JSON: {exc.msg} at column {exc.colno}")
            continue
        record, errors = _record_from_object(obj)
        problems.extend(f"line {lineno}: {e}" for e in errors)
        if record is None:
            continue
        if record.id in first_line_of:
            problems.append(
                f"line {lineno}: duplicate id {record.id!r} (first on line {first_line_of[record.id]})"
            )
            continue
        first_line_of[record.id] = lineno
        records.append(record)
    if not problems and not records:
        problems.append("file contains no records")
    if problems:
        raise LabelFormatError(problems)
    return records


def export_jsonl(records: Iterable[LabelRecord]) -> str:
    """One JSON object per line, in the format :func:`parse_label_jsonl` reads."""
    return "".join(
        json.dumps(r.to_json_dict(), ensure_ascii=False, allow_nan=False) + "\n" for r in records
    )


def export_csv(records: Iterable[LabelRecord]) -> str:
    """Flat CSV, one row per record, columns :data:`CSV_COLUMNS`.

    ``humans`` is joined as ``reviewer:verdict`` separated by ``;``; ``metadata`` is
    compact JSON; unset values are empty cells. Written by ``cai_web.spreadsheet``:
    cells with line breaks are quoted and cells a spreadsheet would read as a formula
    get a leading apostrophe.
    """
    return write_csv(
        [
            CSV_COLUMNS,
            *(
                [
                    r.id,
                    r.judge,
                    r.principle,
                    r.prompt,
                    r.response_a,
                    r.response_b,
                    r.verdict_ab,
                    r.verdict_ba,
                    r.p_a_ab,
                    r.p_a_ba,
                    r.human,
                    ";".join(f"{h.reviewer}:{h.verdict}" for h in r.humans),
                    json.dumps(r.metadata, ensure_ascii=False, separators=(",", ":"))
                    if r.metadata
                    else None,
                ]
                for r in records
            ),
        ]
    )


# ---------------------------------------------------------------------------- LLMBar

_LLMBAR_WINNER = {"1": "a", "2": "b", None: None}
_LLMBAR_LABEL = {1: "a", 2: "b", "1": "a", "2": "b"}


def _load_json_list(data: bytes, what: str) -> list[Any]:
    _check_size(data)
    try:
        obj = json_loads(bytes(data).decode("utf-8"), allow_nan=True)
    except UnicodeDecodeError as exc:
        raise LabelFormatError([f"{what}: not valid UTF-8 at byte offset {exc.start}"]) from None
    except json.JSONDecodeError as exc:
        raise LabelFormatError(
            [f"{what}: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None
    if not isinstance(obj, list):
        raise LabelFormatError([f"{what}: expected a JSON list of records, got {_type_name(obj)}"])
    if not obj:
        raise LabelFormatError([f"{what}: contains no records"])
    return obj


def _known(value: Any, table: Mapping[Any, Any] | frozenset[Any]) -> bool:
    """``value in table``, False for an unhashable value (a list or an object from the
    file), which ``in`` would answer with TypeError."""
    try:
        return value in table
    except TypeError:
        return False


def _llmbar_winner(swap: Any, key: str, problems: list[str]) -> str | None:
    if not isinstance(swap, dict) or "winner" not in swap:
        problems.append(f"results[-1][{key!r}] must be an object with a winner")
        return None
    winner = swap["winner"]
    if not _known(winner, _LLMBAR_WINNER):
        problems.append(f"results[-1][{key!r}].winner must be '1', '2' or None, got {winner!r}")
        return None
    return _LLMBAR_WINNER[winner]


def import_llmbar(result_json: bytes, judge: str, dataset_name: str) -> list[LabelRecord]:
    """Records from an LLMBar ``result.json`` (one evaluator on one dataset).

    output_1 becomes response_a. ``results`` (a list, or a Python-literal string of
    one, read with ``ast.literal_eval``) ends with ``{"swap = False": {"winner"},
    "swap = True": {"winner"}}``; both winners are already in original indices, so
    swap = False gives verdict_ab and swap = True verdict_ba. The gold ``label`` (1 or
    2) becomes ``human``. Ids are ``<dataset_name>-<index>``, 0-based in file order.
    """
    for name, value in (("judge", judge), ("dataset_name", dataset_name)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    rows = _load_json_list(result_json, "result.json")
    problems: list[str] = []
    records: list[LabelRecord] = []
    for i, row in enumerate(rows):
        errors: list[str] = []
        if not isinstance(row, dict):
            problems.append(f"record {i}: expected an object, got {_type_name(row)}")
            continue
        missing = [k for k in ("input", "output_1", "output_2", "label", "results") if k not in row]
        if missing:
            problems.append(f"record {i}: missing field(s): {', '.join(missing)}")
            continue
        prompt = _nonempty_str(row, "input", errors)
        out_1 = _text(row, "output_1", errors)
        out_2 = _text(row, "output_2", errors)
        label = row["label"]
        human = _LLMBAR_LABEL.get(label) if isinstance(label, int | str) else None
        if human is None or isinstance(label, bool):
            errors.append(f"label must be 1 or 2, got {label!r}")
        results = row["results"]
        if isinstance(results, str):
            try:
                results = ast.literal_eval(results)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                errors.append("results is a string but not a Python literal")
                results = None
        v_ab = v_ba = None
        completions: dict[str, Any] = {}
        if results is not None:
            if not isinstance(results, list) or not results or not isinstance(results[-1], dict):
                errors.append("results must be a non-empty list ending in an object")
            else:
                last = results[-1]
                v_ab = _llmbar_winner(last.get("swap = False"), "swap = False", errors)
                v_ba = _llmbar_winner(last.get("swap = True"), "swap = True", errors)
                for key, name in (
                    ("swap = False", "completion_ab"),
                    ("swap = True", "completion_ba"),
                ):
                    comp = (
                        last.get(key, {}).get("completion")
                        if isinstance(last.get(key), dict)
                        else None
                    )
                    if isinstance(comp, list) and comp and isinstance(comp[0], str):
                        completions[name] = comp[0]
        if errors:
            problems.extend(f"record {i}: {e}" for e in errors)
            continue
        assert prompt is not None and out_1 is not None and out_2 is not None
        records.append(
            LabelRecord(
                id=f"{dataset_name}-{i}",
                prompt=prompt,
                response_a=out_1,
                response_b=out_2,
                judge=judge,
                verdict_ab=v_ab,
                verdict_ba=v_ba,
                human=human,
                metadata={"source": "llmbar", "dataset": dataset_name, "index": i, **completions},
            )
        )
    if problems:
        raise LabelFormatError(problems)
    return records


# ---------------------------------------------------------------------------- PandaLM

_PANDALM_LABEL = {0: "tie", 1: "a", 2: "b"}
PANDALM_ANNOTATORS = ("annotator1", "annotator2", "annotator3")


def _pandalm_text(row: dict[str, Any], name: str, errors: list[str]) -> str | None:
    value = row.get(name)
    # The upstream file stores a few literal answers "True" as JSON true; keep the text.
    if isinstance(value, bool):
        return "True" if value else "False"
    if not isinstance(value, str):
        errors.append(f"{name} must be a string, got {_type_name(value)}")
        return None
    return value


def import_pandalm(data: bytes) -> list[LabelRecord]:
    """Records from PandaLM's ``testset-v1.json``: three human labels per pair, no AI verdicts.

    prompt = instruction, plus a blank line and ``input`` when input is not empty;
    response1/response2 become response_a/response_b; annotator1..3 (0 tie, 1, 2)
    become ``humans`` with those reviewer names. judge is :data:`NO_JUDGE`.
    """
    rows = _load_json_list(data, "PandaLM test set")
    problems: list[str] = []
    records: list[LabelRecord] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        errors: list[str] = []
        if not isinstance(row, dict):
            problems.append(f"record {i}: expected an object, got {_type_name(row)}")
            continue
        missing = [
            k
            for k in ("idx", "instruction", "input", "response1", "response2", *PANDALM_ANNOTATORS)
            if k not in row
        ]
        if missing:
            problems.append(f"record {i}: missing field(s): {', '.join(missing)}")
            continue
        idx = row["idx"]
        if isinstance(idx, bool) or not isinstance(idx, int | str):
            errors.append(f"idx must be an integer or string, got {_type_name(idx)}")
        instruction = _pandalm_text(row, "instruction", errors)
        extra = _pandalm_text(row, "input", errors)
        resp_1 = _pandalm_text(row, "response1", errors)
        resp_2 = _pandalm_text(row, "response2", errors)
        humans = []
        for name in PANDALM_ANNOTATORS:
            value = row[name]
            if isinstance(value, bool) or not _known(value, _PANDALM_LABEL):
                errors.append(f"{name} must be 0, 1 or 2, got {value!r}")
            else:
                humans.append(HumanLabel(reviewer=name, verdict=_PANDALM_LABEL[value]))
        prompt = None
        if instruction is not None and extra is not None:
            prompt = instruction.strip()
            if extra.strip():
                prompt = f"{prompt}\n\n{extra.strip()}" if prompt else extra.strip()
            if not prompt:
                errors.append("instruction and input are both empty")
        rid = f"pandalm-{idx}"
        if not errors and rid in seen:
            errors.append(f"duplicate idx {idx!r} (first in record {seen[rid]})")
        if errors:
            problems.extend(f"record {i}: {e}" for e in errors)
            continue
        seen[rid] = i
        assert prompt and resp_1 is not None and resp_2 is not None
        records.append(
            LabelRecord(
                id=rid,
                prompt=prompt,
                response_a=resp_1,
                response_b=resp_2,
                judge=NO_JUDGE,
                verdict_ab=None,
                verdict_ba=None,
                humans=tuple(humans),
                metadata={
                    "source": "pandalm",
                    "idx": idx,
                    **{
                        k: row[k]
                        for k in ("motivation_app", "cmp_key")
                        if isinstance(row.get(k), str)
                    },
                },
            )
        )
    if problems:
        raise LabelFormatError(problems)
    return records


def human_reviews(records: Sequence[LabelRecord]) -> list[tuple[str, str, str]]:
    """(item_id, reviewer, verdict) rows for :func:`labelling.stats.human_agreement`."""
    return [(r.id, h.reviewer, h.verdict) for r in records for h in r.humans]


# ------------------------------------------------------------------ CAI paper evals

CAI_PAPER_FORMAT = "cai_paper"
CAI_PAPER_SETS = ("hhh", "harmful_vs_ethical")
_CAI_OPTION = {" (A)": "a", " (B)": "b", "(A)": "a", "(B)": "b"}
_TURN = "\n\nAssistant:"


def _cai_option(row: dict[str, Any], name: str, errors: list[str]) -> str | None:
    value = row.get(name)
    if not isinstance(value, list) or len(value) != 1 or not _known(value[0], _CAI_OPTION):
        errors.append(f'{name} must be a list of one option, " (A)" or " (B)", got {value!r}')
        return None
    return _CAI_OPTION[value[0]]


def _cai_hhh_record(i: int, row: dict[str, Any], errors: list[str]) -> LabelRecord | None:
    """One 438HHHEvaluations line: the two whole dialogues share every turn but the last."""
    correct = _nonempty_str(row, "text_correct", errors)
    incorrect = _nonempty_str(row, "text_incorrect", errors)
    gold = _cai_option(row, "corrects", errors)
    if correct is None or incorrect is None or gold is None:
        return None
    if _TURN not in correct or _TURN not in incorrect:
        errors.append("text_correct and text_incorrect must each end in an Assistant: turn")
        return None
    context_c, answer_c = correct.rsplit(_TURN, 1)
    context_i, answer_i = incorrect.rsplit(_TURN, 1)
    if context_c != context_i:
        errors.append("text_correct and text_incorrect differ before their last Assistant: turn")
        return None
    prompt = context_c.strip()
    if not prompt:
        errors.append("the dialogue has no turn before the answers")
        return None
    # The file's own slot order is kept: the correct answer is a when it was option (A).
    first, second = (answer_c, answer_i) if gold == "a" else (answer_i, answer_c)
    return LabelRecord(
        id=f"hhh-{i}",
        prompt=prompt,
        response_a=first.strip(),
        response_b=second.strip(),
        judge=NO_JUDGE,
        verdict_ab=None,
        verdict_ba=None,
        human=gold,
        metadata={"source": CAI_PAPER_FORMAT, "set": "hhh", "index": i},
    )


def _cai_choice_record(i: int, row: dict[str, Any], errors: list[str]) -> LabelRecord | None:
    """One HarmfulVsEthical line: a dialogue, a question and two options (A) / (B).

    The prompt is cut by its shape, not its wording: the text before the answer cue
    ends with the question's paragraph and the two option lines; the dialogue is what
    comes from the first ``Human:`` turn up to the question.
    """
    text = _nonempty_str(row, "prompt", errors)
    gold = _cai_option(row, "corrects", errors)
    if text is None or gold is None:
        return None
    body = text.rsplit("\nThe answer is:", 1)[0].rstrip()
    at_a, at_b = body.rfind("\n (A) "), body.rfind("\n (B) ")
    start = body.find("Human:")
    if not (0 <= start < at_a < at_b):
        errors.append("prompt must hold a Human: dialogue and then the options (A) and (B)")
        return None
    option_a = body[at_a + len("\n (A) ") : at_b].strip()
    option_b = body[at_b + len("\n (B) ") :].strip()
    head = body[start:at_a].rstrip()
    if "\n\n" not in head:
        errors.append("prompt must hold a question paragraph between the dialogue and the options")
        return None
    dialogue, question = head.rsplit("\n\n", 1)
    if not option_a or not option_b or not dialogue.strip() or not question.strip():
        errors.append("prompt has an empty dialogue, question or option")
        return None
    return LabelRecord(
        id=f"harmful_vs_ethical-{i}",
        prompt=dialogue.strip(),
        response_a=option_a,
        response_b=option_b,
        judge=NO_JUDGE,
        verdict_ab=None,
        verdict_ba=None,
        human=gold,
        # The judge asks this set's own question instead of a principle's (the two
        # "responses" are verdicts about the dialogue, not replies to it).
        metadata={
            "source": CAI_PAPER_FORMAT,
            "set": "harmful_vs_ethical",
            "index": i,
            "question": question.strip(),
        },
    )


def import_cai_paper(data: bytes) -> list[LabelRecord]:
    """Gold records from the CAI paper's ``evals/`` files (JSONL, one file at a time).

    ``438HHHEvaluations.jsonl`` (lines with ``text_correct`` / ``text_incorrect``)
    gives comparisons: the shared turns are the prompt, the two last assistant turns
    the responses in the file's (A)/(B) order, and ``corrects`` the gold ``human``
    label; ids ``hhh-<index>``. ``HarmfulVsEthical.jsonl`` (a dialogue and a
    harmful / ethical question) gives the dialogue as the prompt, the two options as
    the responses, the question in ``metadata.question``; ids
    ``harmful_vs_ethical-<index>``. The file's kind is read from its first line and
    every line must be of that kind. No AI verdicts (judge ``"none"``). Problems are
    reported as ``line N: ...`` (1-based); all or nothing.
    """
    _check_size(data)
    raw = bytes(data)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    problems: list[str] = []
    records: list[LabelRecord] = []
    kind: str | None = None
    index = 0
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"line {lineno}: not valid UTF-8 at byte {exc.start}")
            continue
        if not text.strip():
            continue
        try:
            row = json_loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"line {lineno}: malformed JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {lineno}: expected a JSON object, got {_type_name(row)}")
            continue
        this = "hhh" if "text_correct" in row or "text_incorrect" in row else "harmful_vs_ethical"
        if kind is None:
            kind = this
        elif this != kind:
            problems.append(
                f"line {lineno}: a {this} line in a {kind} file (one set per file, "
                "told apart by text_correct / text_incorrect)"
            )
            continue
        errors: list[str] = []
        if kind == "hhh":
            record = _cai_hhh_record(index, row, errors)
        else:
            record = _cai_choice_record(index, row, errors)
        index += 1
        problems.extend(f"line {lineno}: {e}" for e in errors)
        if record is not None and not errors:
            records.append(record)
    if not problems and not records:
        problems.append("file contains no records")
    if problems:
        raise LabelFormatError(problems)
    return records


def parse_document(
    fmt: str, data: bytes, *, judge: str = "", dataset_name: str = ""
) -> list[LabelRecord]:
    """The records of a whole-document upload in format ``fmt`` (all or nothing)."""
    if fmt == "llmbar":
        return import_llmbar(data, judge=judge, dataset_name=dataset_name)
    if fmt == "pandalm":
        return import_pandalm(data)
    if fmt == CAI_PAPER_FORMAT:
        return import_cai_paper(data)
    if fmt == "jsonl":
        return parse_label_jsonl(data)
    raise ValueError(f"unknown label format {fmt!r}")
