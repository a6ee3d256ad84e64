"""Limits, error and result types, and recognising which format a parsed file is in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cai_web.errors import ProblemsError
from constitutions.content import ConstitutionContent

FORMAT_ID = "cai_web.constitution"
MAX_IMPORT_BYTES = 1_000_000
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "constitution.schema.json"
IMPORTED_CATEGORY = "Imported"
_MAX_MESSAGE = 300


class FormatError(ProblemsError, ValueError):
    """A constitution file cannot be imported; ``problems`` lists every problem found.

    Each problem names the file and the field path (``c.json: categories[0].name: ...``).
    """

    def __init__(self, problems: Iterable[str] | str) -> None:
        super().__init__([problems] if isinstance(problems, str) else problems)
        self.message = str(self)

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"cannot import constitution: {self.problems[0]}"
        lines = "\n".join(f"- {p}" for p in self.problems)
        return f"cannot import constitution ({len(self.problems)} problems):\n{lines}"


@dataclass(frozen=True)
class ImportedConstitution:
    """The result of a successful import; ``warnings`` lists what was dropped or odd."""

    name: str
    description: str
    content: ConstitutionContent
    source_format: str  # "cai_web" | "cai_paper" | "llm_swarm"
    warnings: tuple[str, ...] = ()


_CAI_WEB = "cai_web"
_CRITIQUE_INSTRUCTIONS = "critique_instructions"
_MADISON_INSTRUCTIONS = "madison_instructions"
_CRITIQUE_FEW_SHOTS = "critique_few_shots"
_MADISON_FEW_SHOTS = "madison_few_shots"
_LLM_SWARM = "llm_swarm"

_PAPER_KINDS = {
    _CRITIQUE_INSTRUCTIONS: "CritiqueRevisionInstructions.json",
    _MADISON_INSTRUCTIONS: "RLMadisonInstructions.json",
    _CRITIQUE_FEW_SHOTS: "CritiqueRevisionFewShotPrompts.json",
    _MADISON_FEW_SHOTS: "RLMadisonFewShotPrompts.json",
}


def _kind_of(doc: Any) -> str | None:
    """Recognise a parsed file by its shape (file names are only used in messages)."""
    if isinstance(doc, dict):
        if "format" in doc or ("schema_version" in doc and "principles" in doc):
            return _CAI_WEB
        if "constitutions" in doc:
            return _LLM_SWARM
        if doc and all(isinstance(v, dict) and "edit_request" in v for v in doc.values()):
            return _CRITIQUE_INSTRUCTIONS
        return None
    if isinstance(doc, list) and doc:
        if all(isinstance(x, str) for x in doc):
            if any("CritiqueRequest:" in x for x in doc):
                return _CRITIQUE_FEW_SHOTS
            return _MADISON_INSTRUCTIONS
        if all(isinstance(x, dict) and "corrects" in x for x in doc):
            return _MADISON_FEW_SHOTS
    return None
