"""The fuzz tests' properties, run long (issue 13): many examples per case, figures at the end.

    .venv/bin/python bench/fuzz_bench.py [--examples 300] [--seed 1]

Same cases as tests/test_fuzz.py (common.graphql.fuzzing) against the development gateway and
every subgraph in services.json reached directly, on a private platform (bench/_platform.py):
anonymous and staff queries and mutations, plausible mutations, hostile variables, malformed HTTP
bodies — with the same row checks (common.testing.rows: every table and the cart's Redis counted
around each example; the workers are stopped once the fuzz rows exist). Prints, per target and
case: examples, seconds, HTTP statuses, error codes seen, root fields that succeeded, and the first
failure if any.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections import Counter
from typing import Any

import graphql
import httpx
from _platform import ADMIN, Platform, services
from common.graphql import fuzzing
from common.testing import rows
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as seed_
from hypothesis import strategies as st

SESSION_ENDING = {"logout", "logoutAllSessions"}
BUDGET_SPENDING = {"login", "changePassword"}


def run_case(strategy: st.SearchStrategy[Any], send: Any, examples: int, seed: int,
             watch: rows.RowWatch, ready: Any = lambda: None) -> dict[str, Any]:
    """`send(value)` -> (document, response): the answer must be clean and the rows what it says."""
    findings = fuzzing.Findings()
    failure: list[str] = []
    succeeded: Counter[str] = Counter()

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def case(value: Any) -> None:
        ready()  # a staff sign-in writes a session row: before the snapshot, never inside it
        before = watch.snapshot()
        document, response = send(value)
        fuzzing.check_response(response, findings)
        body = response.json() if response.text.strip() else None
        rows.check_effects(document, body, watch.changes(before))
        succeeded.update(name for name, outcome in rows.root_outcomes(document, body).values()
                         if outcome == rows.SUCCEEDED)

    started = time.perf_counter()
    try:
        seed_(seed)(case)()
    except AssertionError as error:
        failure.append(str(error).splitlines()[0][:300])
    except Exception as error:  # a failing property is reported, not raised
        # A flaky failure (failed once, passed on replay) hides its cause in a sub-exception.
        cause = next(iter(getattr(error, "exceptions", ())), None)
        detail = f" <- {cause.__class__.__name__}: {str(cause)[:600]}" if cause is not None else ""
        failure.append(f"{error.__class__.__name__}: {str(error)[:300]}{detail}")
    return {"examples": findings.requests, "seconds": round(time.perf_counter() - started, 1),
            "statuses": findings.statuses, "codes": dict(sorted(findings.codes.items(), key=lambda kv: -kv[1])[:8]),
            "succeeded": dict(succeeded), "failure": failure[0] if failure else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with Platform(os.environ.get("DATABASE_NAME_SUFFIX", "") + "_fuzz", gateway_production=False) as platform, \
            httpx.Client(timeout=30) as http:
        urls = {"gateway": platform.gateway + "/graphql", **platform.subgraphs}
        staff = platform.bearer(ADMIN)  # headers(), signing in again before the 5-minute token expires

        def staff_data(document: str, variables: dict[str, Any]) -> dict[str, Any]:
            body = http.post(urls["gateway"], json={"query": document, "variables": variables}, headers=staff()).json()
            assert "errors" not in body, body
            return body["data"]

        fodder = rows.create_fodder(staff_data)
        rows.wait_for_cart_read_model(platform.env["CART_REDIS_URL"], fodder[3:])
        for name in platform.worker_names():  # workers write rows too: none from here on
            platform.kill(name, signal.SIGTERM)
        databases = {s["name"]: f"postgresql://postgres@127.0.0.1:5432/{platform.database(s['name'])}" for s in services()}
        watch = rows.RowWatch(databases,
                              {s["name"]: platform.env[s["redis"]["url_setting"]] for s in services() if s.get("redis")})
        for target, url in urls.items():
            body = http.post(url, json={"query": graphql.get_introspection_query()}).json()
            schema = graphql.build_client_schema(body["data"])
            address = {"X-Forwarded-For": "198.51.100.77"} if target == "accounts" else {}
            cases: dict[str, Any] = {}
            for who, headers in (("anonymous", dict), ("staff", staff)):
                excluded = (SESSION_ENDING if who == "staff" else set()) | (BUDGET_SPENDING if target != "accounts" else set())

                def post(doc: str, variables: dict | None = None, h: Any = headers, u: str = url, a: dict = address) -> Any:
                    return doc, fuzzing.post_document(http, u, doc, variables, headers={**h(), **a})

                for kind in ("query", "mutation"):
                    cases[f"{kind}-{who}"] = run_case(fuzzing.operations(schema, kind, excluded, ids=fodder),
                                                      post, options.examples, options.seed, watch, headers)
                cases[f"plausible-{who}"] = run_case(fuzzing.plausible_mutations(schema, excluded, ids=fodder),
                                                     post, options.examples, options.seed, watch, headers)
                cases[f"variables-{who}"] = run_case(fuzzing.operations_with_variables(schema, excluded, ids=fodder),
                                                     lambda op, p=post: p(*op), options.examples, options.seed, watch,
                                                     headers)
            cases["malformed-bodies"] = run_case(
                st.tuples(fuzzing.malformed_bodies, fuzzing.content_types),
                lambda pair, u=url: ("", http.post(u, content=pair[0], headers={"content-type": pair[1]})),
                options.examples, options.seed, watch)
            results[target] = cases
            print(json.dumps({target: cases}, indent=1), flush=True)
        watch.close()
    total = sum(case["examples"] for cases in results.values() for case in cases.values())
    failures = {f"{t}/{c}": case["failure"] for t, cases in results.items() for c, case in cases.items() if case["failure"]}
    succeeded: Counter[str] = Counter()
    for cases in results.values():
        for case in cases.values():
            succeeded.update(case["succeeded"])
    print(json.dumps({"requests": total, "cases": sum(len(c) for c in results.values()), "failures": failures,
                      "root fields succeeded (rows checked)": dict(succeeded.most_common()),
                      "fuzzing seconds": round(sum(c["seconds"] for cases in results.values() for c in cases.values()), 1),
                      "seconds with start-up": round(time.perf_counter() - started, 1),
                      "loadavg_before": load_before, "loadavg_after": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
