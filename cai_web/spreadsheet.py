"""CSV that a spreadsheet opens safely: the one writer every CSV export uses.

Two rules (OWASP "CSV injection"), applied to every text cell:

* a cell that holds a line break (CR or LF) is quoted, so a row never splits in two —
  ``csv.writer`` quotes only the characters of its line terminator, hence CRLF rows
  (RFC 4180), which makes it quote both;
* a cell a spreadsheet would run as a formula — its first character, or the first
  character after any line break, is ``= + - @``, a tab or a CR — gets a leading
  apostrophe, which spreadsheets show as text.

Numbers (``int``/``float``) are written as they are: a negative number is not a formula.
No Django here: the engines and the exporters may all call it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

# A formula trigger at the start of the cell or of any line in it. A CR that begins a
# CRLF pair is a line break, not a trigger; a lone CR is both.
_FORMULA_START = re.compile(r"(?:\A|\r\n|\r|\n)(?:[=+\-@\t]|\r(?!\n))")


def spreadsheet_cell(value: object) -> object:
    """``value`` as a cell no spreadsheet runs: text that could start a formula gets an
    apostrophe in front; ``None`` is an empty cell; numbers are left alone."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = str(value)
        return "'" + text if _FORMULA_START.search(text) else text
    return value


def write_csv(rows: Iterable[Sequence[object]]) -> str:
    """``rows`` (the header first) as CSV text, every cell through :func:`spreadsheet_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for row in rows:
        writer.writerow([spreadsheet_cell(cell) for cell in row])
    return buffer.getvalue()


__all__ = ["spreadsheet_cell", "write_csv"]
