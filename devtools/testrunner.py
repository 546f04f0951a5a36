"""The whole test suite: lint, the shared package's tests, each service's, then the cross-service tests;
one summary line at the end (`all suites: N passed, N failed, N skipped`)."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from devtools.bootstrap import ensure_backing_services
from devtools.paths import LOG_DIR, ROOT, VENV_BIN, VENV_PYTHON, say
from devtools.services import services


def junit_counts(path: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) of a pytest junit report; errors count as failures."""
    if not path.exists():
        return 0, 0, 0
    total = failed = skipped = 0
    for suite in ElementTree.parse(path).getroot().iter("testsuite"):
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return total - failed - skipped, failed, skipped


def suites() -> list[tuple[str, Path]]:
    """(name, directory) of every pytest suite, in the order they run."""
    found = [(s["name"], ROOT / s["project"]) for s in services()]
    if (ROOT / "common" / "pytest.ini").exists():
        found.insert(0, ("common", ROOT / "common"))  # the shared package's own tests
    if any((ROOT / "tests").glob("test_*.py")):
        found.append(("cross-service", ROOT / "tests"))
    return found


def select_suites(args: list[str]) -> tuple[list[tuple[str, Path]], list[str]]:
    """Leading arguments that name suites (`catalog`, `cross-service`, ...) pick those suites; the rest go to
    pytest. No suite named: every suite."""
    every = suites()
    names = {name for name, _ in every}
    chosen: list[str] = []
    while len(chosen) < len(args) and args[len(chosen)] in names:
        chosen.append(args[len(chosen)])
    picked = [suite for suite in every if suite[0] in chosen] if chosen else every
    return picked, args[len(chosen):]


def run_tests(args: list[str]) -> int:
    selected, pytest_args = select_suites(args)
    ensure_backing_services()
    LOG_DIR.mkdir(exist_ok=True)
    failures: list[str] = []
    say("ruff check")
    if subprocess.run([str(VENV_BIN / "ruff"), "check", "."], cwd=ROOT).returncode:
        failures.append("ruff")
    passed = failed = skipped = 0
    for name, directory in selected:
        say(f"pytest: {name}")
        report = LOG_DIR / f"junit-{name}.xml"
        report.unlink(missing_ok=True)
        # --create-db for the Django suites: the whole run starts from fresh test databases; a suite run by
        # hand keeps --reuse-db (pytest.ini) for speed, and an interrupted run's leftover rows never reach CI.
        fresh = ["--create-db"] if "--reuse-db" in (directory / "pytest.ini").read_text() else []
        code = subprocess.run([str(VENV_PYTHON), "-m", "pytest", "-q", f"--junitxml={report}", *fresh, *pytest_args],
                              cwd=directory).returncode
        counts = junit_counts(report)
        passed, failed, skipped = passed + counts[0], failed + counts[1], skipped + counts[2]
        if code != 0:
            failures.append(name)
            if counts[1] == 0:  # pytest stopped before reporting (usage error, collection crash): still a failure
                failed += 1
    print()
    if failures:
        say("FAILED: " + ", ".join(failures))
    print(f"all suites: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 1 if failures or passed == 0 else 0
