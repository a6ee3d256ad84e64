"""mypy with django-stubs over the apps, as configured in pyproject.toml ([tool.mypy]).

mypy is a dev-extra tool; its cache lives under var/mypy_cache, so a rerun takes
seconds (a cold run about half a minute).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_apps_type_check_with_mypy_and_django_stubs():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--no-color-output"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, f"mypy found errors:\n{output}"
