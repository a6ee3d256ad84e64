"""Strict JSON/YAML parsing that reports line and column for every problem."""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from pathlib import Path
from typing import Any

import yaml

from cai_web.jsonlimits import JSONLimitError, check_limits, too_deep

from .common import MAX_IMPORT_BYTES


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


class _StrictJSONDecoder(json.JSONDecoder):
    """A JSON decoder that records duplicate object keys with the object's position.

    The C scanner ignores a custom ``parse_object``, so this uses the pure-Python
    scanner; imports are capped at 1 MB, where its speed does not matter.
    """

    def __init__(self, filename: str, problems: list[str]) -> None:
        super().__init__()
        self._filename = filename
        self._problems = problems
        self.parse_object = self._parse_object
        self.scan_once = json.scanner.py_make_scanner(self)

    def _parse_object(
        self,
        s_and_end: tuple[str, int],
        strict: bool,
        scan_once: Any,
        object_hook: Any,
        object_pairs_hook: Any,
        memo: Any = None,
    ) -> tuple[dict[str, Any], int]:
        s, end = s_and_end
        pairs, new_end = json.decoder.JSONObject(
            s_and_end, strict, scan_once, None, lambda p: p, memo
        )
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                line, col = _line_col(s, end - 1)
                self._problems.append(
                    f"{self._filename}: duplicate key {key!r} in the object starting at "
                    f"line {line}, column {col}"
                )
            seen.add(key)
        return dict(pairs), new_end


def _parse_json(filename: str, text: str, problems: list[str]) -> Any:
    # The limits are cai_web.jsonlimits' (depth), as for every JSON the app reads; this
    # decoder only adds duplicate-key reports. NaN stays readable here so that a NaN
    # weight is refused naming its field.
    try:
        return check_limits(_StrictJSONDecoder(filename, problems).decode(text))
    except JSONLimitError as exc:
        problems.append(f"{filename}: JSON is {exc.msg}")
    except json.JSONDecodeError as exc:
        problems.append(
            f"{filename}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        )
    except RecursionError:
        problems.append(f"{filename}: JSON is {too_deep().msg}")
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        problems.append(f"{filename}: malformed JSON: {exc}")
    return None


class _StrictYAMLLoader(yaml.SafeLoader):
    """SafeLoader that records duplicate mapping keys and refuses aliases.

    Aliases are refused because an export never uses them and a few nested ones
    can expand into an enormous document.
    """

    problems: list[str]
    filename: str

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key fails below with yaml's own message
            if duplicate:
                mark = key_node.start_mark
                self.problems.append(
                    f"{self.filename}: duplicate key {key!r} at line {mark.line + 1}, "
                    f"column {mark.column + 1}"
                )
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(filename: str, text: str, problems: list[str]) -> Any:
    try:
        # The reader refuses control characters as it is built: inside the try.
        loader = _StrictYAMLLoader(text)
    except yaml.YAMLError as exc:
        problems.append(f"{filename}: malformed YAML: {exc}")
        return None
    loader.problems = problems
    loader.filename = filename
    try:
        return check_limits(loader.get_single_data())
    except JSONLimitError as exc:
        problems.append(f"{filename}: YAML is {exc.msg}")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append(f"{filename}: malformed YAML{where}: {exc.problem or exc.context}")
    except yaml.YAMLError as exc:
        problems.append(f"{filename}: malformed YAML: {exc}")
    except RecursionError:
        problems.append(f"{filename}: YAML is {too_deep().msg}")
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        problems.append(f"{filename}: malformed YAML: {exc}")
    finally:
        loader.dispose()
    return None


def _decode(filename: str, data: bytes, problems: list[str]) -> str | None:
    if len(data) > MAX_IMPORT_BYTES:
        problems.append(
            f"{filename}: file is {len(data):,} bytes; the limit is {MAX_IMPORT_BYTES:,} bytes"
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            f"{filename}: not valid UTF-8: byte 0x{data[exc.start]:02x} at byte offset {exc.start}"
        )
        return None
    return text.removeprefix("\ufeff")


def _parse(filename: str, text: str, problems: list[str]) -> Any:
    suffix = Path(filename).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _parse_yaml(filename, text, problems)
    if suffix == ".json" or text.lstrip()[:1] in ("{", "["):
        return _parse_json(filename, text, problems)
    return _parse_yaml(filename, text, problems)
