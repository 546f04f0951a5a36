"""Every runtime requirement (requirements/base.txt) is used: imported by a service or common, or named in
settings as a dotted path (middleware, storage backends)."""

from __future__ import annotations

import re
from importlib.metadata import packages_distributions

from devtools.paths import ROOT

# Used without being named as a module: run as a command, or the backend of a Django class.
LOADED_BY_NAME = {"gunicorn": "deploy/gunicorn.conf.py, manage_all up --prod", "argon2-cffi": "Argon2PasswordHasher"}


def runtime_requirements() -> list[str]:
    lines = (ROOT / "requirements" / "base.txt").read_text().splitlines()
    return [re.split(r"[\[=<>]", line)[0].strip() for line in lines if line.strip() and not line.startswith("#")]


def source_text() -> str:
    folders = ["common/common", *(p.name for p in ROOT.glob("*_project"))]
    return "\n".join(path.read_text() for folder in folders for path in (ROOT / folder).rglob("*.py"))


def test_every_runtime_requirement_is_imported_somewhere():
    import_names: dict[str, set[str]] = {}
    for module, distributions in packages_distributions().items():
        for distribution in distributions:
            import_names.setdefault(distribution.lower().replace("_", "-"), set()).add(module)
    source = source_text()
    unused = []
    for requirement in runtime_requirements():
        if requirement in LOADED_BY_NAME:
            continue
        modules = import_names.get(requirement.lower().replace("_", "-"), set())
        assert modules, f"{requirement} is not installed"
        names = "|".join(map(re.escape, sorted(modules)))
        imported = re.search(rf"^\s*(?:from|import)\s+(?:{names})\b", source, flags=re.M)
        if not imported and not re.search(rf"[\"'](?:{names})\.", source):
            unused.append(requirement)
    assert not unused, f"runtime requirements nothing imports: {unused}"
