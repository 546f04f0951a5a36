"""The gateway: its npm dependencies, the supergraph composed from the subgraphs, Hive Gateway itself."""

from __future__ import annotations

import hashlib
import os
import subprocess
import urllib.request
from pathlib import Path

from devtools.paths import GATEWAY_DIR, say
from devtools.supervisor import Supervisor


def ensure_gateway_dependencies() -> None:
    """`npm ci` in gateway/ when node_modules is missing or older than package-lock.json."""
    lock = GATEWAY_DIR / "package-lock.json"
    stamp = GATEWAY_DIR / "node_modules" / ".package-lock.sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    say("gateway: npm ci (first run takes a minute)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=GATEWAY_DIR, check=True)
    stamp.write_text(digest)


def compose_supergraph(urls: dict[str, str] | None = None, *, out: Path | None = None, check: bool = True) -> int:
    """Run gateway/compose.mjs; `urls` maps a subgraph name to its GraphQL URL (default: services.json ports)."""
    command = ["node", "compose.mjs"]
    for name, url in (urls or {}).items():
        command += ["--url", f"{name}={url}"]
    if out is not None:
        command += ["--out", str(out)]
    code = subprocess.run(command, cwd=GATEWAY_DIR).returncode
    if check and code:
        raise SystemExit(f"[manage_all] composition failed (exit {code}); the gateway was not started")
    return code


def start_gateway(supervisor: Supervisor, *, port: int, production: bool = False, supergraph: Path | None = None,
                  name: str = "gateway", extra_env: dict[str, str] | None = None) -> str:
    """Start Hive Gateway on 127.0.0.1:<port>; returns its base URL once /readiness answers."""
    env = dict(os.environ)
    env.update({"NODE_ENV": "production" if production else "development", "GATEWAY_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(port)})
    if supergraph is not None:
        env["GATEWAY_SUPERGRAPH"] = str(supergraph)
    env.update(extra_env or {})
    supervisor.start(name, ["node", "start.mjs"], cwd=GATEWAY_DIR, env=env)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/readiness", timeout=1) as response:  # noqa: S310 - loopback URL
                return response.status == 200
        except OSError:
            return False

    supervisor.wait_ready(ready, timeout=60, what=f"{name} on {base}")
    return base
