"""The virtualenv: created on first use, re-installed when a requirements file changes. Standard library only:
this runs with the system python3 before anything is installed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from devtools.paths import ROOT, VENV, VENV_PYTHON, say

REQUIREMENTS = [ROOT / "requirements" / "dev.txt", ROOT / "requirements" / "base.txt", ROOT / "common" / "pyproject.toml"]
STAMP = VENV / ".requirements.sha256"


def requirements_digest() -> str:
    digest = hashlib.sha256()
    for path in REQUIREMENTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_virtualenv(script: Path, argv: list[str]) -> None:
    """Create .venv and install the pinned requirements when they changed, then re-exec `script argv` inside it."""
    if not VENV_PYTHON.exists():
        say("creating virtualenv .venv")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    digest = requirements_digest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        say("installing pinned requirements (first run takes a minute)")
        pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-r", str(ROOT / "requirements" / "dev.txt"), "-e", str(ROOT / "common")], check=True)
        STAMP.write_text(digest)
    if not inside_virtualenv():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(script), *argv])  # noqa: S606


def inside_virtualenv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()
