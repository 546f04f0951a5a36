"""Where things are in a checkout. Standard library only."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_BIN = VENV / "bin"
VENV_PYTHON = VENV_BIN / "python"
LOG_DIR = ROOT / ".run"  # logs of every process, generated secrets, the running broker's address
GATEWAY_DIR = ROOT / "gateway"
SERVICES_FILE = ROOT / "services.json"


def say(message: str) -> None:
    print(f"[manage_all] {message}", flush=True)
