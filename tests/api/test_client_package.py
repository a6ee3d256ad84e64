"""The client installs on its own (``pip install ./cai_client``): a wheel of the package
alone, needing httpx and nothing of the server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_client_builds_as_a_wheel_of_its_own_needing_only_httpx(tmp_path: Path) -> None:
    source = tmp_path / "cai_client"  # a copy, so the build leaves nothing in the tree
    shutil.copytree(ROOT / "cai_client", source, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("cai_client-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [
            line.split(":", 1)[1].strip()
            for line in zf.read(meta).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
        entry = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    package = {n for n in names if n.startswith("cai_client/")}
    assert package == {
        "cai_client/__init__.py",
        "cai_client/__main__.py",
        "cai_client/cli.py",
        "cai_client/client.py",
        "cai_client/py.typed",
    }
    assert [r.split(">")[0].split("<")[0].strip() for r in requires] == ["httpx"]
    assert "cai-client = cai_client.cli:main" in entry
