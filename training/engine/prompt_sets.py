"""Parse uploaded red-team prompt files into a clean list of prompts.

Accepted formats, chosen by file name (a trailing ``.gz`` means gzip-compressed):

- ``.jsonl``: one JSON object per line, either ``{"prompt": "..."}``,
  ``{"messages": [{"role": "user", "content": "..."}, ...]}`` (the first user turn is
  the prompt), or an Anthropic HH-RLHF record ``{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ..."}``
  (the first ``Human:`` turn is the prompt);
- ``.csv``: a header row with a ``prompt`` column (RFC 4180 quoting, so prompts may hold
  commas, quotes and newlines);
- ``.txt``: one prompt per line.

Blank lines are skipped. Prompts are stripped of surrounding whitespace and exact
duplicates are dropped, keeping the first occurrence and the file's order. A file with
any bad line is rejected as a whole, with every problem and its line number in
:class:`PromptFileError`, so that a user fixes the file once rather than line by line.
"""

from __future__ import annotations

import csv
import io
import json
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cai_web.errors import ProblemsError
from cai_web.jsonlimits import json_loads
from training.engine.seeds import derive_seed

DEFAULT_MAX_BYTES = 20_000_000
DEFAULT_MAX_PROMPT_CHARS = 8_000
MAX_PROBLEMS_IN_MESSAGE = 20

_FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".txt": "text"}


class PromptFileError(ProblemsError, ValueError):
    """An uploaded prompt file was rejected; ``problems`` lists every reason found
    (the message shows the first few: a file can have a million bad lines)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems, field="file")
        shown = self.problems[:MAX_PROBLEMS_IN_MESSAGE]
        more = len(self.problems) - len(shown)
        message = "; ".join(shown)
        if more:
            message += f"; and {more:,} more problem{'s' if more > 1 else ''}"
        self.message = message
        self.args = (message,)


@dataclass(frozen=True)
class ParsedPrompts:
    """The prompts read from a file, in file order, without duplicates."""

    prompts: list[str]
    duplicates_removed: int
    format: str


def parse_prompt_file(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS,
) -> ParsedPrompts:
    """Read prompts from an uploaded file's bytes; raise PromptFileError if it is unusable.

    ``max_bytes`` bounds the upload and, for gzip files, the decompressed size too (a
    small archive can expand enormously). ``format`` in the result is ``jsonl``,
    ``hh-rlhf``, ``csv`` or ``text``, with ``.gz`` appended for compressed uploads.
    """
    name = filename.lower().strip()
    compressed = name.endswith(".gz")
    if compressed:
        name = name[: -len(".gz")]
    suffix = next((s for s in _FORMATS if name.endswith(s)), None)
    if suffix is None:
        raise PromptFileError(
            [
                f"{filename!r} is not a supported prompt file: use .jsonl, .csv or .txt "
                "(optionally gzip-compressed, ending in .gz)"
            ]
        )
    if len(data) > max_bytes:
        raise PromptFileError([f"the file is {len(data):,} bytes; the limit is {max_bytes:,}"])
    if not data:
        raise PromptFileError(["the file is empty"])
    if compressed:
        data = _gunzip(data, max_bytes)
    text = _decode(data)
    if not text.strip():
        raise PromptFileError(["the file is empty"])

    kind = _FORMATS[suffix]
    if kind == "jsonl":
        numbered, kind = _read_jsonl(text)
    elif kind == "csv":
        numbered = _read_csv(text)
    else:
        numbered = list(enumerate(_lines(text), start=1))

    prompts, problems = _check(numbered, max_prompt_chars, skip_blank=kind == "text")
    if problems:
        raise PromptFileError(problems)
    if not prompts:
        raise PromptFileError(["the file holds no prompts"])
    unique = list(dict.fromkeys(prompts))
    return ParsedPrompts(
        prompts=unique,
        duplicates_removed=len(prompts) - len(unique),
        format=kind + (".gz" if compressed else ""),
    )


def split_prompts(
    prompts: list[str], held_out_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Split prompts into (train, held_out), the same way every time for the same seed.

    ``round(len(prompts) * held_out_fraction)`` prompts, drawn at random with ``seed``,
    are held out; both parts keep the input order.
    """
    if not 0.0 <= held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction must be in [0, 1), got {held_out_fraction}")
    n_held = round(len(prompts) * held_out_fraction)
    held = set(random.Random(seed).sample(range(len(prompts)), n_held))
    train = [p for i, p in enumerate(prompts) if i not in held]
    held_out = [p for i, p in enumerate(prompts) if i in held]
    return train, held_out


PROMPT_SUBSETS = ("first", "random")


@dataclass(kw_only=True)
class PromptSubset:
    """The part of a run's prompt selection it uses: a base of the configs of the kinds
    that take prompts, so every such run records its subset in its config."""

    prompt_limit: int | None = field(
        default=None,
        metadata={
            "help": "Use only N prompts of the selection (None: all of them); the run's "
            "config records it, so the same N gives the same examples."
        },
    )
    prompt_subset: str = field(
        default="first",
        metadata={
            "help": "Which N: 'first' (in upload order) or 'random' (drawn with a seed "
            "derived from the run's seed, kept in upload order)."
        },
    )


def subset_problems(limit: Any, subset: Any) -> list[str]:
    """What is wrong with a run's prompt subset (``prompt_limit``, ``prompt_subset``)."""
    problems: list[str] = []
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        problems.append(f"prompt_limit: must be a positive integer or None, got {limit!r}")
    if subset not in PROMPT_SUBSETS:
        problems.append(
            f"prompt_subset: must be one of {', '.join(PROMPT_SUBSETS)}, got {subset!r}"
        )
    return problems


def describe_subset(limit: int | None, subset: str, seed: int) -> str:
    """How a run's config words its subset ("the first 8", "a random 8 (seed 3)"); ""
    when it uses the whole selection."""
    if not limit:
        return ""
    if subset == "random":
        return f"a random {limit:,} (seed {seed})"
    return f"the first {limit:,}"


def choose_subset(indices: Sequence[int], limit: int | None, subset: str, seed: int) -> list[int]:
    """The prompt indices a run over a subset uses, in their original order.

    ``first``: the first ``limit`` of ``indices``; ``random``: ``limit`` of them drawn
    with a seed derived from the run's ``seed`` (the same run, the same prompts, on any
    worker); ``limit`` None keeps them all.
    """
    if limit is None or limit >= len(indices):
        return list(indices)
    if subset == "first":
        return list(indices[:limit])
    rng = random.Random(derive_seed(seed, "prompt-subset"))
    chosen = set(rng.sample(list(indices), limit))
    return [i for i in indices if i in chosen]


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip data, stopping as soon as the output passes ``max_bytes``.

    Asking zlib for at most ``max_bytes + 1 - len(out)`` bytes per call means a gzip
    bomb fails at the limit instead of filling memory; concatenated members (legal
    gzip) are read one after another, as the ``gzip`` module would.
    """
    out = bytearray()
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    pending = data
    try:
        while True:
            out += decompressor.decompress(pending, max_bytes + 1 - len(out))
            if len(out) > max_bytes:
                raise PromptFileError(
                    [f"the file expands to more than {max_bytes:,} bytes when decompressed"]
                )
            if decompressor.eof:
                pending = decompressor.unused_data
                if not pending.strip(b"\0"):
                    return bytes(out)
                decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                continue
            pending = decompressor.unconsumed_tail
            if not pending:
                # Under the limit with no input left and no end marker: cut short.
                raise PromptFileError(["the file is not a complete gzip file (it is truncated)"])
    except zlib.error as exc:
        raise PromptFileError([f"the file is not valid gzip data ({exc})"]) from None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PromptFileError(
            [
                f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset "
                f"{exc.start:,} (line {line}) cannot be decoded"
            ]
        ) from None


def _lines(text: str) -> list[str]:
    # Not str.splitlines(): that also splits on U+2028, form feeds and other characters
    # that may sit inside a JSON string or a prompt, and would shift line numbers.
    return [line.removesuffix("\r") for line in text.split("\n")]


def _read_jsonl(text: str) -> tuple[list[tuple[int, str | Exception]], str]:
    """(line number, prompt or the problem with that line) for every non-blank line."""
    numbered: list[tuple[int, str | Exception]] = []
    all_hh = True
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record = json_loads(line, allow_nan=True)
        except json.JSONDecodeError as exc:
            numbered.append((number, ValueError(f"not valid JSON ({exc.msg}, column {exc.colno})")))
            continue
        try:
            prompt, is_hh = _prompt_from_record(record)
        except ValueError as exc:
            numbered.append((number, exc))
            continue
        all_hh = all_hh and is_hh
        numbered.append((number, prompt))
    return numbered, "hh-rlhf" if numbered and all_hh else "jsonl"


def _prompt_from_record(record: Any) -> tuple[str, bool]:
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    if "prompt" in record:
        return _as_text(record["prompt"], '"prompt"'), False
    if "messages" in record:
        return _first_user_message(record["messages"]), False
    if "chosen" in record:
        return _first_human_turn(_as_text(record["chosen"], '"chosen"')), True
    raise ValueError('no "prompt", "messages" or "chosen" field')


def _as_text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    # OpenAI-style content parts: [{"type": "text", "text": "..."}, ...]
    if (
        isinstance(value, list)
        and value
        and all(isinstance(part, dict) and isinstance(part.get("text"), str) for part in value)
    ):
        return "".join(part["text"] for part in value)
    raise ValueError(f"{what} must be a string, got {type(value).__name__}")


def _first_user_message(messages: Any) -> str:
    if not isinstance(messages, list):
        raise ValueError(f'"messages" must be a list, got {type(messages).__name__}')
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            return _as_text(message.get("content"), "the user message's content")
    raise ValueError('"messages" has no message with role "user"')


def _first_human_turn(dialogue: str) -> str:
    start = dialogue.find("Human:")
    if start < 0 or dialogue[:start].strip():
        raise ValueError('"chosen" does not start with a "Human:" turn')
    turn = dialogue[start + len("Human:") :]
    ends = [at for at in (turn.find("\n\nAssistant:"), turn.find("\n\nHuman:")) if at >= 0]
    return turn[: min(ends)] if ends else turn


def _read_csv(text: str) -> list[tuple[int, str | Exception]]:
    # newline="" semantics: csv handles \r\n and newlines inside quoted fields itself.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    numbered: list[tuple[int, str | Exception]] = []
    try:
        header = next(reader)
    except csv.Error as exc:
        return [(reader.line_num, ValueError(f"the header row is not valid CSV ({exc})"))]
    columns = [name.strip().lower() for name in header]
    if "prompt" not in columns:
        return [(1, ValueError(f'no "prompt" column in the header (found: {", ".join(header)})'))]
    at = columns.index("prompt")
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # After a quoting error the reader cannot find the next row boundary reliably.
            numbered.append((start, ValueError(f"not valid CSV ({exc}); reading stopped here")))
            break
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            numbered.append(
                (start, ValueError(f"has {len(row)} fields; the header has {len(header)}"))
            )
            continue
        numbered.append((start, row[at]))
    return numbered


def _check(
    numbered: list[tuple[int, str | Exception]], max_prompt_chars: int, *, skip_blank: bool
) -> tuple[list[str], list[str]]:
    prompts: list[str] = []
    problems: list[str] = []
    for number, item in numbered:
        if isinstance(item, Exception):
            problems.append(f"line {number}: {item}")
            continue
        prompt = item.strip()
        if not prompt:
            if not skip_blank:
                problems.append(f"line {number}: the prompt is empty")
            continue
        if len(prompt) > max_prompt_chars:
            problems.append(
                f"line {number}: the prompt is {len(prompt):,} characters; "
                f"the limit is {max_prompt_chars:,}"
            )
            continue
        prompts.append(prompt)
    return prompts, problems
