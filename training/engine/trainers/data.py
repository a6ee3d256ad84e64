"""Reading training data (JSONL or a datasets folder) and turning AI labels into pairs.

``binarise`` is pure Python; the loaders import ``datasets`` when called.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cai_web.jsonlimits import json_loads

PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")


class DataError(ValueError):
    """A training file is missing, empty or has the wrong columns."""


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every non-blank line of a JSONL file as a dict (errors name the line)."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json_loads(line, allow_nan=True)
            except json.JSONDecodeError as error:  # a JSONLimitError (too deep) is one too
                raise DataError(f"{path}:{number}: not JSON: {error}") from error
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected an object")
            rows.append(row)
    return rows


def load_records(path: str | Path) -> Any:
    """A ``datasets.Dataset`` from a JSONL file or a ``save_to_disk`` folder (its train split)."""
    from datasets import Dataset, DatasetDict, load_from_disk

    path = Path(path)
    if path.is_dir():
        loaded = load_from_disk(str(path))
        if isinstance(loaded, DatasetDict):
            if "train" not in loaded:
                raise DataError(f"{path}: a DatasetDict needs a 'train' split, has {list(loaded)}")
            loaded = loaded["train"]
        dataset = loaded
    elif path.is_file():
        dataset = Dataset.from_list(read_jsonl(path))
    else:
        raise DataError(f"{path}: no such file or folder")
    if len(dataset) == 0:
        raise DataError(f"{path}: no records")
    return dataset


def _as_messages(value: Any, role: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": m["role"], "content": m["content"]} for m in value]


def sft_dataset(path: str | Path) -> Any:
    """prompt/completion records (text or messages, as export.py writes) for SFTTrainer."""
    dataset = load_records(path)
    missing = [c for c in ("prompt", "completion") if c not in dataset.column_names]
    if missing:
        raise DataError(f"{path}: SFT records need prompt and completion; missing {missing}")
    extra = [c for c in dataset.column_names if c not in ("prompt", "completion")]
    dataset = dataset.remove_columns(extra)
    first = dataset[0]
    if isinstance(first["prompt"], list) and isinstance(first["completion"], str):
        # trl wants both sides in the same format; a text completion becomes one assistant turn.
        dataset = dataset.map(
            lambda row: {"completion": _as_messages(row["completion"], "assistant")}
        )
    return dataset


def preference_dataset(path: str | Path) -> tuple[Any, list[float] | None]:
    """(prompt/chosen/rejected dataset for trl, the p_chosen column or None).

    A prompt given as messages with chosen/rejected given as text gets them wrapped
    as one assistant message each (trl's conversational format).
    """
    dataset = load_records(path)
    missing = [c for c in PREFERENCE_COLUMNS if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"{path}: preference records need prompt, chosen, rejected; missing {missing}"
        )
    soft = [float(p) for p in dataset["p_chosen"]] if "p_chosen" in dataset.column_names else None
    extra = [c for c in dataset.column_names if c not in PREFERENCE_COLUMNS]
    dataset = dataset.remove_columns(extra)
    first = dataset[0]
    if isinstance(first["prompt"], list) and isinstance(first["chosen"], str):
        dataset = dataset.map(
            lambda row: {
                "chosen": _as_messages(row["chosen"], "assistant"),
                "rejected": _as_messages(row["rejected"], "assistant"),
            }
        )
    return dataset, soft


def _field(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record[name]
    return getattr(record, name)


def binarise(
    labels: Iterable[Any], threshold: float = 0.5
) -> tuple[list[dict[str, Any]], float | None]:
    """Turn soft AI labels into DPO pairs: (records, mean soft label of the kept pairs).

    Each label has ``prompt``, ``response_a``, ``response_b`` and ``p_a`` (mapping or
    attributes; p_a is P(a is better), e.g. ``PairLabel.p_a_mean``). A pair is kept
    when the feedback model is at least ``threshold`` sure either way, i.e.
    ``|p_a - 0.5| >= threshold - 0.5``; exact ties (p_a == 0.5) are never kept, as
    they prefer nothing. ``chosen`` is the preferred answer and ``p_chosen`` its
    probability (>= threshold). The mean soft label is mean(p_chosen); ``1 - mean``
    is the flip probability to pass as DPO ``label_smoothing`` (cDPO).
    """
    if not (0.5 <= float(threshold) <= 1.0):
        raise ValueError(f"threshold must be in [0.5, 1], got {threshold!r}")
    margin = float(threshold) - 0.5
    records: list[dict[str, Any]] = []
    for label in labels:
        p_a = float(_field(label, "p_a"))
        if not 0.0 <= p_a <= 1.0:
            raise ValueError(f"p_a must be a probability, got {p_a!r}")
        # A small tolerance so that p_a = 0.7 passes threshold 0.7 despite float error.
        if p_a == 0.5 or abs(p_a - 0.5) < margin - 1e-12:
            continue
        a, b = _field(label, "response_a"), _field(label, "response_b")
        chosen, rejected, p = (a, b, p_a) if p_a > 0.5 else (b, a, 1.0 - p_a)
        records.append(
            {
                "prompt": _field(label, "prompt"),
                "chosen": chosen,
                "rejected": rejected,
                "p_chosen": p,
            }
        )
    mean = sum(r["p_chosen"] for r in records) / len(records) if records else None
    return records, mean


def write_jsonl(records: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """Write records as JSONL (UTF-8, one object a line); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
