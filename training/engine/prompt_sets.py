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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

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
    _kind_of(filename)
    if len(data) > max_bytes:
        raise PromptFileError([f"the file is {len(data):,} bytes; the limit is {max_bytes:,}"])
    return parse_prompt_stream(
        io.BytesIO(data), filename, max_bytes=max_bytes, max_prompt_chars=max_prompt_chars
    )


def parse_prompt_stream(
    stream: BinaryIO,
    filename: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS,
) -> ParsedPrompts:
    """Read prompts from an open binary file, a line at a time.

    What :func:`parse_prompt_file` does, without holding the file: the bytes are read
    in chunks (gzip decompressed as they come), decoded and parsed line by line, so a
    worker importing a 2 GiB upload holds only the distinct prompts, never the file,
    its text and its lines side by side. More than ``max_bytes`` read (or decompressed)
    is refused.
    """
    kind, compressed = _kind_of(filename)
    chunks = _read_chunks(stream, max_bytes)
    if compressed:
        chunks = _gunzip_chunks(chunks, max_bytes)
    lines = _decoded_lines(_byte_lines(chunks))
    seen_text = _Seen(lines)

    if kind == "jsonl":
        numbered, hh = _read_jsonl(seen_text)
    elif kind == "csv":
        numbered, hh = _read_csv(seen_text), None
    else:
        numbered, hh = ((n, line) for n, line in enumerate(seen_text, start=1)), None

    unique, count, problems = _check(numbered, max_prompt_chars, skip_blank=kind == "text")
    if not seen_text.any_content:
        raise PromptFileError(["the file is empty"])
    if problems:
        raise PromptFileError(problems)
    if not unique:
        raise PromptFileError(["the file holds no prompts"])
    if hh is not None:
        kind = "hh-rlhf" if hh.all_hh else "jsonl"
    return ParsedPrompts(
        prompts=list(unique),
        duplicates_removed=count - len(unique),
        format=kind + (".gz" if compressed else ""),
    )


def _kind_of(filename: str) -> tuple[str, bool]:
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
    return _FORMATS[suffix], compressed


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


READ_CHUNK = 1 << 20


def _read_chunks(stream: BinaryIO, max_bytes: int) -> Iterator[bytes]:
    """The stream's bytes in chunks; refused once more than ``max_bytes`` were read."""
    total = 0
    while chunk := stream.read(READ_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise PromptFileError([f"the file is more than {max_bytes:,} bytes; the limit"])
        yield chunk
    if total == 0:
        raise PromptFileError(["the file is empty"])


def _gunzip_chunks(chunks: Iterator[bytes], max_bytes: int) -> Iterator[bytes]:
    """Decompress gzip data as it comes, stopping as soon as the output passes ``max_bytes``.

    Asking zlib for at most ``max_bytes + 1 - produced`` bytes per call means a gzip
    bomb fails at the limit instead of filling memory; concatenated members (legal
    gzip) are read one after another, as the ``gzip`` module would, and NUL padding
    after the last member is allowed.
    """
    produced = 0
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    ended = False  # the last member ended and only padding (or nothing) came after
    try:
        for chunk in chunks:
            pending = chunk
            while pending:
                if ended:
                    if not pending.strip(b"\0"):
                        break
                    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                    ended = False
                out = decompressor.decompress(pending, max_bytes + 1 - produced)
                produced += len(out)
                if produced > max_bytes:
                    raise PromptFileError(
                        [f"the file expands to more than {max_bytes:,} bytes when decompressed"]
                    )
                if out:
                    yield out
                if decompressor.eof:
                    ended = True
                    pending = decompressor.unused_data
                else:
                    pending = decompressor.unconsumed_tail
    except zlib.error as exc:
        raise PromptFileError([f"the file is not valid gzip data ({exc})"]) from None
    if not ended:
        # No input left and no end marker: cut short.
        raise PromptFileError(["the file is not a complete gzip file (it is truncated)"])


def _byte_lines(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, int]]:
    """(line without its b"\\n", byte offset of its start) — split on b"\\n" only."""
    offset = 0
    pending: list[bytes] = []  # the pieces of a line that spans chunks
    for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            pending.append(chunk[start:end])
            line = b"".join(pending)
            pending = []
            yield line, offset
            offset += len(line) + 1
            start = end + 1
        if start < len(chunk):
            pending.append(chunk[start:])
    yield b"".join(pending), offset


def _decoded_lines(lines: Iterator[tuple[bytes, int]]) -> Iterator[str]:
    """UTF-8 text lines (a BOM at the start dropped, a trailing "\\r" removed).

    Not str.splitlines(): that also splits on U+2028, form feeds and other characters
    that may sit inside a JSON string or a prompt, and would shift line numbers.
    """
    for number, (raw, offset) in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            at = offset + exc.start
            raise PromptFileError(
                [
                    f"the file is not UTF-8 text: byte 0x{raw[exc.start]:02x} at byte offset "
                    f"{at:,} (line {number}) cannot be decoded"
                ]
            ) from None
        yield text.removesuffix("\r")


class _Seen:
    """Lines passed through, noting whether any held more than whitespace."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.any_content = False

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            if not self.any_content and line.strip():
                self.any_content = True
            yield line


class _HH:
    all_hh = True


def _read_jsonl(lines: Iterable[str]) -> tuple[Iterator[tuple[int, str | Exception]], _HH]:
    """(line number, prompt or the problem with that line) for every non-blank line, and
    whether every record was an HH-RLHF one (known once the lines are consumed)."""
    hh = _HH()
    seen = [False]

    def numbered() -> Iterator[tuple[int, str | Exception]]:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            seen[0] = True
            try:
                record = json_loads(line, allow_nan=True)
            except json.JSONDecodeError as exc:
                yield number, ValueError(f"not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            try:
                prompt, is_hh = _prompt_from_record(record)
            except ValueError as exc:
                yield number, exc
                continue
            hh.all_hh = hh.all_hh and is_hh
            yield number, prompt
        if not seen[0]:
            hh.all_hh = False

    return numbered(), hh


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


def _read_csv(lines: Iterable[str]) -> Iterator[tuple[int, str | Exception]]:
    # Each line handed on with its "\n": csv then joins the lines of a quoted field
    # that holds newlines itself.
    reader = csv.reader((line + "\n" for line in lines), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        yield reader.line_num, ValueError(f"the header row is not valid CSV ({exc})")
        return
    except StopIteration:
        return
    columns = [name.strip().lower() for name in header]
    if "prompt" not in columns:
        yield 1, ValueError(f'no "prompt" column in the header (found: {", ".join(header)})')
        return
    at = columns.index("prompt")
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # After a quoting error the reader cannot find the next row boundary reliably.
            yield start, ValueError(f"not valid CSV ({exc}); reading stopped here")
            break
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield start, ValueError(f"has {len(row)} fields; the header has {len(header)}")
            continue
        yield start, row[at]


def _check(
    numbered: Iterable[tuple[int, str | Exception]], max_prompt_chars: int, *, skip_blank: bool
) -> tuple[dict[str, None], int, list[str]]:
    """The distinct prompts in file order (a dict used as an ordered set), how many
    prompts the file held, and every problem."""
    unique: dict[str, None] = {}
    count = 0
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
        count += 1
        if not problems:
            unique.setdefault(prompt, None)
    return unique, count, problems
