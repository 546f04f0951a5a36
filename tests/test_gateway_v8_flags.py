"""start.mjs re-runs the gateway with the V8 flags its settings ask for (heap cap, young generation)."""

from __future__ import annotations

import json
import subprocess

from devtools.paths import GATEWAY_DIR

SCRIPT = """
import('./lib/memory/heap-cap.mjs').then((m) => console.log(JSON.stringify([
  m.missingV8Flags({ heapMb: 192, semiSpaceMb: 0 }, [], ''),
  m.missingV8Flags({ heapMb: 192, semiSpaceMb: 64 }, [], ''),
  m.missingV8Flags({ heapMb: 192, semiSpaceMb: 64 }, [], '--max-old-space-size=100'),
  m.missingV8Flags({ heapMb: 0, semiSpaceMb: 64 }, ['--max-semi-space-size=8'], ''),
  m.missingV8Flags({ heapMb: 0, semiSpaceMb: 0 }, [], ''),
  m.missingV8Flags({ heapMb: 192, heapGrowingPercent: 200 }, [], ''),
])))
"""


def test_missing_v8_flags_are_added_once():
    output = subprocess.run(["node", "-e", SCRIPT], cwd=GATEWAY_DIR, capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(output.stdout) == [
        ["--max-old-space-size=192"],
        ["--max-old-space-size=192", "--max-semi-space-size=64"],
        ["--max-semi-space-size=64"],  # the cap given in NODE_OPTIONS wins
        [],  # given on the command line
        [],
        ["--max-old-space-size=192", "--heap-growing-percent=200"],
    ]


def test_v8_settings_defaults_and_environment():
    script = ("import('./lib/settings.mjs').then((m) => console.log(JSON.stringify("
              "[m.settings.heapMb, m.settings.semiSpaceMb, m.settings.heapGrowingPercent])))")
    env = {"PATH": "/usr/bin:/bin", "GATEWAY_SEMI_SPACE_MB": "32"}
    output = subprocess.run(["node", "-e", script], cwd=GATEWAY_DIR, env=env, capture_output=True, text=True,
                            check=True, timeout=60)
    assert json.loads(output.stdout) == [192, 32, 200]
