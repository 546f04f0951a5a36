"""CPU time per process group of a platform run (/proc/<pid>/stat utime+stime), for the benches.

A `CpuMeter` snapshots every process of the supervisor (and its descendants: gunicorn workers, the
gateway's children), the broker, this process (the load generator) and the PostgreSQL backends
serving the run's databases; `delta()` gives CPU seconds per group between two snapshots. Backends
that exit between the snapshots are not counted (services keep theirs: CONN_MAX_AGE 60 s).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user+system) of one process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _all_processes() -> dict[int, tuple[int, float]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            table[int(entry)] = stat
    return table


class CpuMeter:
    def __init__(self, roots: dict[str, int], database_suffix: str) -> None:
        self.roots = roots  # group name -> root pid
        self.database_suffix = database_suffix

    def _postgres_backends(self) -> dict[int, str]:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
            rows = connection.execute(
                "SELECT pid, datname FROM pg_stat_activity WHERE datname LIKE %s AND pid <> pg_backend_pid()",
                [f"%{self.database_suffix}"]).fetchall()
        return {int(pid): f"postgres {name.removesuffix(self.database_suffix)}" for pid, name in rows}

    def snapshot(self) -> dict[int, tuple[str, float]]:
        table = _all_processes()
        children: dict[int, list[int]] = defaultdict(list)
        for pid, (ppid, _) in table.items():
            children[ppid].append(pid)
        owned: dict[int, tuple[str, float]] = {}
        for group, root in self.roots.items():
            stack = [root]
            while stack:
                pid = stack.pop()
                if pid in table and pid not in owned:
                    owned[pid] = (group, table[pid][1])
                    stack.extend(children.get(pid, []))
        for pid, group in self._postgres_backends().items():
            if pid in table:
                owned[pid] = (group, table[pid][1])
        return owned

    @staticmethod
    def delta(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
        """CPU seconds per group spent between the two snapshots (processes new since `before` count whole)."""
        spent: dict[str, float] = defaultdict(float)
        for pid, (group, seconds) in after.items():
            previous = before.get(pid)
            spent[group] += seconds - (previous[1] if previous and previous[0] == group else 0.0)
        return dict(spent)


def kind_of(group: str) -> str:
    """The coarse class of a group: service (gunicorn), worker, gateway, broker, postgres, redis, load generator."""
    if group.startswith("postgres"):
        return "postgres"
    if group.endswith("-redis"):
        return "redis"
    if "gateway" in group:
        return "gateway"
    if group in ("broker", "load generator"):
        return group
    return "worker" if "-" in group else "service"


def report(spent: dict[str, float], per: int, what: str = "confirmed checkout", cores: int = 2) -> list[str]:
    """Lines: CPU ms per `what` by group and by kind, the total, and the CPU ceiling it implies on `cores`."""
    if per <= 0:
        return [f"  (no {what}: no CPU per {what})"]
    lines = [f"  CPU ms per {what} (n={per}), by process group:"]
    ordered = sorted(spent.items(), key=lambda item: -item[1])
    lines.append("    " + ", ".join(f"{group} {seconds * 1000 / per:.1f}" for group, seconds in ordered if seconds > 0))
    kinds: dict[str, float] = defaultdict(float)
    for group, seconds in spent.items():
        kinds[kind_of(group)] += seconds
    total = sum(spent.values()) * 1000 / per
    lines.append("    by kind: " + ", ".join(f"{kind} {seconds * 1000 / per:.1f}" for kind, seconds in
                                          sorted(kinds.items(), key=lambda item: -item[1])))
    ceiling = cores * 1000 / total if total else float("inf")
    lines.append(f"    total {total:.1f} ms per {what} -> CPU ceiling on {cores} cores: {ceiling:.0f} per s")
    return lines
