"""Parsing uploaded prompt files: every format, the real HH-RLHF test split, every bad input."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import pytest

from training.engine.prompt_sets import PromptFileError, parse_prompt_file, split_prompts

# Counted once, independently of the parser, with the loop in the test below.
HH_LINES = 2312
HH_UNIQUE_FIRST_TURNS = 2178


def shared_data() -> Path:
    env = os.environ.get("CAI_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


HH_FILE = shared_data() / "hh-rlhf-harmless-base-test.jsonl.gz"


def problems_of(data: bytes, filename: str, **limits: int) -> list[str]:
    with pytest.raises(PromptFileError) as caught:
        parse_prompt_file(data, filename, **limits)
    return caught.value.problems


# --- the real data --------------------------------------------------------------------


def test_it_reads_the_first_human_turn_of_every_real_hh_rlhf_dialogue() -> None:
    raw = HH_FILE.read_bytes()
    parsed = parse_prompt_file(raw, HH_FILE.name)

    # An independent count: split each dialogue by hand, keep first occurrences.
    expected: list[str] = []
    seen: set[str] = set()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    for line in lines:
        chosen = json.loads(line)["chosen"]
        first = chosen.split("\n\nAssistant:")[0].split("Human:", 1)[1].strip()
        if first not in seen:
            seen.add(first)
            expected.append(first)

    assert len(lines) == HH_LINES
    assert len(expected) == HH_UNIQUE_FIRST_TURNS
    assert parsed.format == "hh-rlhf.gz"
    assert parsed.prompts == expected
    assert parsed.duplicates_removed == HH_LINES - HH_UNIQUE_FIRST_TURNS
    assert all("Assistant:" not in p and "Human:" not in p for p in parsed.prompts)


def test_the_same_file_uncompressed_gives_the_same_prompts() -> None:
    raw = HH_FILE.read_bytes()
    plain = parse_prompt_file(gzip.decompress(raw), "harmless.jsonl")
    assert plain.format == "hh-rlhf"
    assert plain.prompts == parse_prompt_file(raw, HH_FILE.name).prompts


# --- formats --------------------------------------------------------------------------


def test_jsonl_takes_prompt_or_the_first_user_message() -> None:
    lines = [
        {"prompt": "  first  "},
        {"messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "second"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "third"}]}]},
        {"prompt": "first"},
    ]
    data = ("\n".join(json.dumps(x) for x in lines) + "\n\n").encode()
    parsed = parse_prompt_file(data, "set.JSONL")
    assert parsed.prompts == ["first", "second", "third"]
    assert parsed.duplicates_removed == 1
    assert parsed.format == "jsonl"


def test_csv_handles_quotes_commas_newlines_and_crlf() -> None:
    data = (
        b'id,prompt\r\n1,"Hello, world"\r\n2,"She said ""no""\nthen left"\r\n'
        b"3,plain\r\n\r\n4,plain\r\n"
    )
    parsed = parse_prompt_file(data, "set.csv")
    assert parsed.prompts == ["Hello, world", 'She said "no"\nthen left', "plain"]
    assert parsed.duplicates_removed == 1
    assert parsed.format == "csv"


def test_csv_finds_the_prompt_column_whatever_its_case_and_a_utf8_bom() -> None:
    parsed = parse_prompt_file("\ufeffPrompt\nUn café ?\n".encode(), "x.csv")
    assert parsed.prompts == ["Un café ?"]


def test_plain_text_is_one_prompt_per_line_skipping_blanks() -> None:
    parsed = parse_prompt_file(b"one\r\n\n  two \nthree\none\n", "list.txt")
    assert parsed.prompts == ["one", "two", "three"]
    assert parsed.duplicates_removed == 1
    assert parsed.format == "text"


def test_a_line_separator_inside_a_prompt_does_not_split_it() -> None:
    data = json.dumps({"prompt": "a\u2028b"}, ensure_ascii=False).encode() + b"\n"
    assert parse_prompt_file(data, "x.jsonl").prompts == ["a\u2028b"]


@pytest.mark.parametrize("name", ["p.txt.gz", "p.csv.gz", "p.jsonl.gz"])
def test_gzip_variants_of_every_format_are_read(name: str) -> None:
    body = {
        "p.txt.gz": b"alpha\nbeta\n",
        "p.csv.gz": b"prompt\nalpha\nbeta\n",
        "p.jsonl.gz": b'{"prompt": "alpha"}\n{"prompt": "beta"}\n',
    }[name]
    parsed = parse_prompt_file(gzip.compress(body), name)
    assert parsed.prompts == ["alpha", "beta"]
    assert parsed.format.endswith(".gz")


def test_concatenated_gzip_members_are_all_read() -> None:
    data = gzip.compress(b"alpha\n") + gzip.compress(b"beta\n")
    assert parse_prompt_file(data, "p.txt.gz").prompts == ["alpha", "beta"]


# --- bad input ------------------------------------------------------------------------


def test_every_bad_jsonl_line_is_reported_with_its_line_number_and_nothing_returned() -> None:
    data = "\n".join(
        [
            '{"prompt": "fine"}',
            "{not json",
            '{"text": "wrong field"}',
            '["a list"]',
            '{"prompt": 42}',
            '{"prompt": "   "}',
            '{"messages": [{"role": "assistant", "content": "no user"}]}',
            '{"messages": "not a list"}',
            '{"chosen": "Assistant: no human first"}',
            '{"prompt": "fine again"}',
        ]
    ).encode()
    problems = problems_of(data, "bad.jsonl")
    assert [p.split(":")[0] for p in problems] == [f"line {n}" for n in range(2, 10)]
    assert "not valid JSON" in problems[0]
    assert 'no "prompt", "messages" or "chosen" field' in problems[1]
    assert "expected a JSON object, got list" in problems[2]
    assert '"prompt" must be a string, got int' in problems[3]
    assert "the prompt is empty" in problems[4]
    assert 'no message with role "user"' in problems[5]
    assert '"messages" must be a list' in problems[6]
    assert 'does not start with a "Human:" turn' in problems[7]


def test_the_error_message_shows_the_first_problems_and_counts_the_rest() -> None:
    data = b"\n".join(b"{bad" for _ in range(30))
    with pytest.raises(PromptFileError) as caught:
        parse_prompt_file(data, "bad.jsonl")
    assert len(caught.value.problems) == 30
    assert str(caught.value).startswith("line 1: not valid JSON")
    assert str(caught.value).endswith("and 10 more problems")


def test_csv_without_a_prompt_column_is_rejected() -> None:
    assert problems_of(b"question,answer\nx,y\n", "q.csv") == [
        'line 1: no "prompt" column in the header (found: question, answer)'
    ]


def test_csv_rows_with_the_wrong_field_count_or_empty_prompts_are_reported() -> None:
    data = b'prompt,source\nok,a\ntoo,many,fields\n"",b\nfine,c\n'
    assert problems_of(data, "p.csv") == [
        "line 3: has 3 fields; the header has 2",
        "line 4: the prompt is empty",
    ]


def test_csv_with_broken_quoting_names_the_line_where_reading_stopped() -> None:
    problems = problems_of(b'prompt\nok\n"bro"ken\nlater\n', "p.csv")
    assert len(problems) == 1
    assert problems[0].startswith("line 3: not valid CSV")


def test_a_prompt_over_the_length_limit_is_reported() -> None:
    data = b"short\n" + b"x" * 101 + b"\nfine\n"
    assert problems_of(data, "p.txt", max_prompt_chars=100) == [
        "line 2: the prompt is 101 characters; the limit is 100"
    ]


def test_a_file_over_the_size_limit_is_rejected_before_parsing() -> None:
    assert problems_of(b"x" * 101, "p.txt", max_bytes=100) == [
        "the file is 101 bytes; the limit is 100"
    ]


def test_a_gzip_bomb_stops_at_the_size_limit() -> None:
    bomb = gzip.compress(b"a" * 5_000_000)
    assert len(bomb) < 10_000
    assert problems_of(bomb, "p.txt.gz", max_bytes=1_000_000) == [
        "the file expands to more than 1,000,000 bytes when decompressed"
    ]


def test_corrupt_and_truncated_gzip_are_rejected() -> None:
    assert "not valid gzip data" in problems_of(b"plain text", "p.txt.gz")[0]
    truncated = gzip.compress(b"hello world\n" * 100)[:-12]
    assert "truncated" in problems_of(truncated, "p.txt.gz")[0]


def test_non_utf8_bytes_are_reported_with_their_byte_offset_and_line() -> None:
    assert problems_of(b"fine\ncaf\xe9\n", "p.txt") == [
        "the file is not UTF-8 text: byte 0xe9 at byte offset 8 (line 2) cannot be decoded"
    ]


@pytest.mark.parametrize(
    ("data", "name"),
    [(b"", "p.txt"), (b"  \n\n ", "p.txt"), (gzip.compress(b""), "p.jsonl.gz"), (b"", "p.csv")],
)
def test_an_empty_file_is_rejected(data: bytes, name: str) -> None:
    assert problems_of(data, name) == ["the file is empty"]


def test_a_csv_with_only_a_header_holds_no_prompts() -> None:
    assert problems_of(b"prompt\n", "p.csv") == ["the file holds no prompts"]


def test_an_unknown_extension_is_rejected_naming_the_supported_ones() -> None:
    (problem,) = problems_of(b"x", "prompts.xlsx")
    assert "'prompts.xlsx' is not a supported prompt file" in problem
    assert ".jsonl, .csv or .txt" in problem


# --- splitting ------------------------------------------------------------------------


def test_split_is_deterministic_disjoint_and_keeps_order() -> None:
    prompts = [f"p{i}" for i in range(100)]
    train, held = split_prompts(prompts, 0.2, seed=7)
    assert (train, held) == split_prompts(prompts, 0.2, seed=7)
    assert len(held) == 20 and len(train) == 80
    assert sorted(train + held, key=prompts.index) == prompts
    assert train == [p for p in prompts if p in train]
    assert held == [p for p in prompts if p in held]
    assert split_prompts(prompts, 0.2, seed=8)[1] != held


def test_split_with_no_held_out_fraction_keeps_everything_for_training() -> None:
    assert split_prompts(["a", "b"], 0.0, seed=1) == (["a", "b"], [])


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_split_rejects_a_fraction_outside_zero_to_one(fraction: float) -> None:
    with pytest.raises(ValueError, match="held_out_fraction"):
        split_prompts(["a"], fraction, seed=0)


# --- reading a stored upload a line at a time ----------------------------------------


STREAM_CASES = [
    (b'{"prompt": "a"}\r\n{"prompt": "b"}\n\n{"prompt": "a"}\n', "x.jsonl"),
    (b'id,prompt\r\n1,"Hello, world"\r\n2,"two\nlines"\r\n3,plain\r\n', "x.csv"),
    ("\ufeffone\r\n\n  two \nthree\none\nvier \u2028 fünf\n".encode(), "x.txt"),
    (gzip.compress(b"one\ntwo\n") + gzip.compress(b"three\n") + b"\0" * 8, "x.txt.gz"),
]


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
@pytest.mark.parametrize(("data", "name"), STREAM_CASES)
def test_reading_in_chunks_gives_what_reading_the_whole_file_gives(
    monkeypatch: pytest.MonkeyPatch, data: bytes, name: str, chunk: int
) -> None:
    from training.engine import prompt_sets

    whole = parse_prompt_file(data, name)
    monkeypatch.setattr(prompt_sets, "READ_CHUNK", chunk)
    streamed = prompt_sets.parse_prompt_stream(io.BytesIO(data), name)
    assert streamed == whole
    assert streamed.prompts  # every case holds prompts


@pytest.mark.parametrize("chunk", [2, 1 << 20])
def test_a_bad_file_read_in_chunks_names_the_same_lines(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    from training.engine import prompt_sets

    data = b'{"prompt": "ok"}\n{"prompt": 3}\nnot json\n'
    monkeypatch.setattr(prompt_sets, "READ_CHUNK", chunk)
    with pytest.raises(PromptFileError) as caught:
        prompt_sets.parse_prompt_stream(io.BytesIO(data), "x.jsonl")
    assert caught.value.problems == problems_of(data, "x.jsonl")
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 2", "line 3"]
    bad_utf8 = b"fine\nstill fine\n\xff\n"
    with pytest.raises(PromptFileError) as caught:
        prompt_sets.parse_prompt_stream(io.BytesIO(bad_utf8), "x.txt")
    assert "byte offset 16 (line 3)" in caught.value.problems[0]


def test_a_big_upload_is_parsed_without_holding_the_file(tmp_path: Path) -> None:
    """32 MiB of the same few prompts: the peak allocation stays a small part of the file
    (reading it whole took the file, its text and its lines: several times its size)."""
    import tracemalloc

    from training.engine.prompt_sets import parse_prompt_stream

    path = tmp_path / "big.jsonl"
    line = json.dumps({"prompt": "x" * 200}).encode() + b"\n"
    with path.open("wb") as f:
        for i in range(8):
            f.write(line.replace(b"x", str(i).encode(), 1) * (4 * 1024 * 1024 // len(line)))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with path.open("rb") as f:
            parsed = parse_prompt_stream(f, path.name, max_bytes=size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parsed.prompts) == 8
    assert peak < size / 8, f"peak {peak:,} bytes for a {size:,}-byte file"
