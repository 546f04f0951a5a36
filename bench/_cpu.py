"""CPU time and memory of processes from /proc, for the benches: CPU per request (utime+stime of
/proc/<pid>/stat) moves far less with the other engineers' load on the shared machine than latency does.

One way to each: `process_tree` (a pid and its descendants: gunicorn forks workers, start.mjs re-runs
itself), `cpu_seconds` / `cpu_by_thread` / `rss_mb` / `peak_rss_mb` of a list of pids, `tree_cpu` /
`group_cpu` (roots by group name, each with its descendants), and `CpuMeter` + `report` (the table
checkout_bench prints).

A `CpuMeter` snapshots every process of the supervisor (and its descendants: gunicorn workers, the
gateway's children), the broker, this process (the load generator) and the PostgreSQL backends
serving the run's databases; `delta()` gives CPU seconds per group between two snapshots. Backends
that exit between the snapshots are not counted (services keep theirs: CONN_MAX_AGE 60 s).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(path: str) -> list[str] | None:
    """The fields of a /proc stat file after the command name (which may hold spaces and parentheses)."""
    try:
        raw = Path(path).read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def _ticks(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def _all_processes() -> dict[int, tuple[int, float]]:
    """{pid: (parent pid, CPU seconds user+system)} of every process there is now."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(f"/proc/{entry}/stat")) is not None:
            table[int(entry)] = int(fields[1]), _ticks(fields) / TICK
    return table


def _children(table: dict[int, tuple[int, float]]) -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in table.items():
        children[ppid].append(pid)
    return children


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (scanning /proc: gunicorn forks workers, start.mjs re-runs itself)."""
    children = _children(_all_processes())
    tree, frontier = [root], [root]
    while frontier:
        frontier = [child for pid in frontier for child in children.get(pid, [])]
        tree += frontier
    return tree


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of the processes (all their threads), in seconds."""
    return sum(_ticks(fields) for pid in pids if (fields := _stat_fields(f"/proc/{pid}/stat")) is not None) / TICK


def cpu_by_thread(pids: Iterable[int]) -> dict[str, float]:
    """utime + stime per thread name (/proc/<pid>/task/<tid>/comm: node's main thread, V8 workers, libuv...)."""
    totals: dict[str, float] = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            except OSError:
                continue
            if (fields := _stat_fields(f"/proc/{pid}/task/{tid}/stat")) is None:
                continue
            name = re.sub(r"\d+$", "", name)  # one row per kind of thread
            totals[name] = totals.get(name, 0.0) + _ticks(fields) / TICK
    return totals


def _status_kb(pids: Iterable[int], key: str) -> list[int]:
    """The `key:` line (VmRSS, VmHWM...) of /proc/<pid>/status, in kB, of each process still there that has one."""
    found = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if match := re.search(rf"^{key}:\s+(\d+) kB", status, re.M):
            found.append(int(match.group(1)))
    return found


def rss_mb(pids: Iterable[int]) -> float:
    """Resident memory of the processes together (VmRSS), in MB."""
    return sum(_status_kb(pids, "VmRSS")) / 1024


def peak_rss_mb(pids: Iterable[int]) -> float:
    """The largest VmHWM (peak resident set) among the processes, in MB."""
    return max(_status_kb(pids, "VmHWM"), default=0) / 1024


def tree_cpu(roots: Iterable[tuple[str, int]],
             table: dict[int, tuple[int, float]] | None = None) -> dict[int, tuple[str, float]]:
    """{pid: (group, CPU seconds)} of every root and its descendants, from one scan of /proc (`table`, or a
    new one); a process under two roots counts once, in the first root's group."""
    table = _all_processes() if table is None else table
    children = _children(table)
    owned: dict[int, tuple[str, float]] = {}
    for group, root in roots:
        stack = [root]
        while stack:
            pid = stack.pop()
            if pid in table and pid not in owned:
                owned[pid] = (group, table[pid][1])
                stack.extend(children.get(pid, []))
    return owned


def group_cpu(roots: Iterable[tuple[str, int]]) -> dict[str, float]:
    """{group: CPU seconds} of the roots with their descendants (several roots may share a group)."""
    spent: dict[str, float] = defaultdict(float)
    for group, seconds in tree_cpu(roots).values():
        spent[group] += seconds
    return dict(spent)


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
        owned = tree_cpu(self.roots.items(), table)
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
