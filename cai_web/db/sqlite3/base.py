"""SQLite backend whose ``flush`` may empty frozen constitution versions.

The immutability triggers (constitutions migration 0002) refuse row deletes of
published versions. PostgreSQL's flush truncates, which fires no row triggers;
SQLite's deletes row by row, so its flush switches the triggers' guard off for
the duration of the flush and back on after.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.backends.sqlite3 import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(
        self,
        style: Any,
        tables: Sequence[str],
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        statements = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if not statements:
            return statements
        return [
            "UPDATE cai_guard SET bypass = 1",
            *statements,
            "UPDATE cai_guard SET bypass = 0",
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
