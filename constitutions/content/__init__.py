"""Constitution content as plain frozen dataclasses, with validation and a stable hash.

Nothing here imports Django: the web app stores this content in its models, and
runs, samplers and GPU workers receive it as plain data. ``ConstitutionContent``
has one canonical dict form (``to_dict``) and one canonical JSON text; its sha256
is the content hash that names a constitution version everywhere. ``LIMITS``
(``limits.py``) is the one definition of its limits that the models, forms,
services and docs/constitution.schema.json follow.
"""

from __future__ import annotations

from .defaults import DEFAULT_CATEGORIES, DEMO_CONSTITUTION
from .limits import KEY_PATTERN, LIMITS, MAX_NAME, MAX_TEXT, ContentLimits
from .parsing import content_from_dict, problem_path
from .specs import (
    CASE_CHOICES,
    CASE_FIELDS,
    CASE_KINDS,
    DEFAULT_COMPARISON_QUESTION,
    FEW_SHOT_FIELDS,
    HASH_SCHEMA_VERSION,
    READABLE_SCHEMA_VERSIONS,
    SCHEMA_VERSION,
    CaseSpec,
    CategorySpec,
    ConstitutionContent,
    ContentError,
    FewShotSpec,
    PrincipleSpec,
)
from .validation import principle_use_problem, validate_content

__all__ = [
    "CASE_CHOICES",
    "CASE_FIELDS",
    "CASE_KINDS",
    "CaseSpec",
    "CategorySpec",
    "ConstitutionContent",
    "ContentLimits",
    "ContentError",
    "content_from_dict",
    "DEFAULT_CATEGORIES",
    "DEFAULT_COMPARISON_QUESTION",
    "DEMO_CONSTITUTION",
    "FEW_SHOT_FIELDS",
    "FewShotSpec",
    "HASH_SCHEMA_VERSION",
    "KEY_PATTERN",
    "LIMITS",
    "MAX_NAME",
    "MAX_TEXT",
    "PrincipleSpec",
    "READABLE_SCHEMA_VERSIONS",
    "SCHEMA_VERSION",
    "principle_use_problem",
    "problem_path",
    "validate_content",
]
