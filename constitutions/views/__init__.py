"""Screens for writing constitutions: list, import, the version editor, diff, history, export.

Every object is fetched through ``get_for_user`` with its team path, so an
outsider gets 404 and a member without the capability 403. Writes go through
``constitutions.services``. The editor's htmx actions are also plain forms: a
non-htmx POST redirects back to the version page with a message; an htmx POST
gets the affected partial of ``version_detail.html`` plus out-of-band updates of
the probability table/chart and the header (whose live hash changed).
"""

from __future__ import annotations

from .cases import case_add, case_delete, case_update
from .categories import category_add, category_delete, category_update
from .common import CONTENT_CHANGED, EDIT, PAGE
from .constitutions import (
    constitution_detail,
    constitution_diff,
    constitution_history,
    constitution_import,
    constitution_list,
    constitution_settings,
    segments_html,
)
from .few_shots import FEW_SHOT_FIELDS, few_shot_add, few_shot_delete, few_shot_update
from .principles import (
    PRINCIPLE_FIELDS,
    principle_add,
    principle_delete,
    principle_move,
    principle_update,
)
from .versions import (
    version_archive,
    version_detail,
    version_discard,
    version_edit,
    version_export,
    version_probabilities,
    version_publish,
)

__all__ = [
    "CONTENT_CHANGED",
    "EDIT",
    "FEW_SHOT_FIELDS",
    "PAGE",
    "PRINCIPLE_FIELDS",
    "case_add",
    "case_delete",
    "case_update",
    "category_add",
    "category_delete",
    "category_update",
    "constitution_detail",
    "constitution_diff",
    "constitution_history",
    "constitution_import",
    "constitution_list",
    "constitution_settings",
    "few_shot_add",
    "few_shot_delete",
    "few_shot_update",
    "principle_add",
    "principle_delete",
    "principle_move",
    "principle_update",
    "segments_html",
    "version_archive",
    "version_detail",
    "version_discard",
    "version_edit",
    "version_export",
    "version_probabilities",
    "version_publish",
]
