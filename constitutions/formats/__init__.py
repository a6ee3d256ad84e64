"""Export constitutions as JSON or YAML, and import them from ours and two foreign formats.

Formats (docs/constitution-format.md):

* ``cai_web``: our own export, JSON or YAML, checked against
  docs/constitution.schema.json and then by ``validate_content``.
* ``cai_paper``: the Constitutional AI paper's prompt files
  (CritiqueRevisionInstructions.json, optionally RLMadisonInstructions.json and
  the two *FewShotPrompts.json files).
* ``llm_swarm``: Hugging Face llm-swarm's ``{"constitutions": [...], "system_chat": [...]}``.

Import is all or nothing: every problem in every file is collected into one
FormatError and nothing is returned.
"""

from __future__ import annotations

from .common import (
    FORMAT_ID,
    IMPORTED_CATEGORY,
    MAX_IMPORT_BYTES,
    SCHEMA_PATH,
    FormatError,
    ImportedConstitution,
)
from .export import export_json, export_yaml
from .importing import import_constitution

__all__ = [
    "FORMAT_ID",
    "FormatError",
    "IMPORTED_CATEGORY",
    "ImportedConstitution",
    "MAX_IMPORT_BYTES",
    "SCHEMA_PATH",
    "export_json",
    "export_yaml",
    "import_constitution",
]
