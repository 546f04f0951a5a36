"""Running manage.py commands: in one service, or in every service with each line labelled `[name] `."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import IO

from devtools.env import service_env
from devtools.paths import ROOT, VENV_PYTHON
from devtools.services import Service


def manage(service: Service, args: list[str], *, check: bool = True, env: dict[str, str] | None = None) -> int:
    """`manage.py args` in the service's project directory, output straight to ours."""
    result = subprocess.run([str(VENV_PYTHON), "manage.py", *args], cwd=ROOT / service["project"],
                            env=env or service_env(service), check=False)
    if check and result.returncode:
        raise SystemExit(f"[manage_all] {service['name']}: manage.py {' '.join(args)} failed ({result.returncode})")
    return result.returncode


def manage_labelled(service: Service, args: list[str], *, env: dict[str, str] | None = None,
                    out: IO[str] | None = None) -> int:
    """`manage.py args` with every line of its output (stdout and stderr) prefixed by `[name] `."""
    out = out or sys.stdout
    process = subprocess.Popen([str(VENV_PYTHON), "manage.py", *args], cwd=ROOT / service["project"],
                               env=env or service_env(service), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, text=True, errors="replace")
    assert process.stdout is not None
    for line in process.stdout:
        out.write(f"[{service['name']}] {line}")
        out.flush()
    return process.wait()


def manage_everywhere(services: list[Service], args: list[str], *,
                      env_for: Callable[[Service], dict[str, str]] | None = None) -> int:
    """The command in each service in turn (labelled); the worst exit status."""
    codes = [manage_labelled(service, args, env=env_for(service) if env_for else None) for service in services]
    return max(codes, default=0)
