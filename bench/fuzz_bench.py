"""The fuzz tests' properties, run long (issue 13): many examples per case, figures at the end.

    .venv/bin/python bench/fuzz_bench.py [--examples 300] [--seed 1]

Same cases as tests/test_fuzz.py (common.graphql.fuzzing) against the development gateway and
every subgraph in services.json reached directly, on a private platform (bench/_platform.py):
anonymous and staff queries and mutations, hostile variables, malformed HTTP bodies. Prints, per
target and case: examples, seconds, HTTP statuses, error codes seen, and the first failure if any.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import graphql
import httpx
from _platform import ADMIN, Platform
from common.graphql import fuzzing
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as seed_
from hypothesis import strategies as st

SESSION_ENDING = {"logout", "logoutAllSessions"}
BUDGET_SPENDING = {"login", "changePassword"}


def run_case(strategy: st.SearchStrategy[Any], send: Any, examples: int, seed: int) -> dict[str, Any]:
    findings = fuzzing.Findings()
    failure: list[str] = []

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def case(value: Any) -> None:
        fuzzing.check_response(send(value), findings)

    started = time.perf_counter()
    try:
        seed_(seed)(case)()
    except AssertionError as error:
        failure.append(str(error).splitlines()[0][:300])
    except Exception as error:  # a failing property is reported, not raised
        failure.append(f"{error.__class__.__name__}: {str(error)[:300]}")
    return {"examples": findings.requests, "seconds": round(time.perf_counter() - started, 1),
            "statuses": findings.statuses, "codes": dict(sorted(findings.codes.items(), key=lambda kv: -kv[1])[:8]),
            "failure": failure[0] if failure else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    load_before = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    with Platform(os.environ.get("DATABASE_NAME_SUFFIX", "") + "_fuzz", gateway_production=False) as platform, \
            httpx.Client(timeout=30) as http:
        urls = {"gateway": platform.gateway + "/graphql", **platform.subgraphs}
        staff = {"Authorization": f"Bearer {platform.token(ADMIN)}"}
        for target, url in urls.items():
            body = http.post(url, json={"query": graphql.get_introspection_query()}).json()
            schema = graphql.build_client_schema(body["data"])
            address = {"X-Forwarded-For": "198.51.100.77"} if target == "accounts" else {}
            cases: dict[str, Any] = {}
            for who, headers in (("anonymous", {}), ("staff", staff)):
                excluded = (SESSION_ENDING if who == "staff" else set()) | (BUDGET_SPENDING if target != "accounts" else set())
                send_headers = {**headers, **address}
                for kind in ("query", "mutation"):
                    cases[f"{kind}-{who}"] = run_case(
                        fuzzing.operations(schema, kind, excluded),
                        lambda doc, h=send_headers, u=url: fuzzing.post_document(http, u, doc, headers=h),
                        options.examples, options.seed)
                cases[f"variables-{who}"] = run_case(
                    fuzzing.operations_with_variables(schema, excluded),
                    lambda op, h=send_headers, u=url: fuzzing.post_document(http, u, op[0], op[1], headers=h),
                    options.examples, options.seed)
            cases["malformed-bodies"] = run_case(
                st.tuples(fuzzing.malformed_bodies, fuzzing.content_types),
                lambda pair, u=url: http.post(u, content=pair[0], headers={"content-type": pair[1]}),
                options.examples, options.seed)
            results[target] = cases
            print(json.dumps({target: cases}, indent=1), flush=True)
    total = sum(case["examples"] for cases in results.values() for case in cases.values())
    failures = {f"{t}/{c}": case["failure"] for t, cases in results.items() for c, case in cases.items() if case["failure"]}
    print(json.dumps({"requests": total, "failures": failures, "loadavg_before": load_before,
                      "loadavg_after": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
