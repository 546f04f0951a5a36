"""deploy/gunicorn.conf.py's warm-up: the master serves one `{ __typename }` request through the preloaded
app before forking, so no worker pays the ~150 ms of lazy first-request work on a shopper's request
(docs/performance.md §3.2), and it closes the database connection that request may have opened: forks
must not share its socket."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


@pytest.fixture
def warm_up() -> Any:
    return runpy.run_path(str(CONF))["warm_up"]


@pytest.mark.django_db(transaction=True)
def test_warm_up_answers_the_graphql_endpoint_and_closes_the_database_connection(warm_up: Any) -> None:
    connection.ensure_connection()
    assert connection.connection is not None

    assert warm_up(WSGIHandler(), "/graphql/") == "200 OK"

    assert connection.connection is None, "a connection opened before fork would be shared by every worker"


# A fresh interpreter: in the suite's process earlier tests have already warmed everything up.
_FIRST_REQUEST = """
import io, json, runpy, sys, time
import django
django.setup()
from django.core.handlers.wsgi import WSGIHandler
app = WSGIHandler()
if sys.argv[1] == "warm":
    runpy.run_path(sys.argv[2])["warm_up"](app, "/graphql/")
body = json.dumps({"query": "{ __typename }"}).encode()
environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/graphql/", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
           "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
           "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr}
started = time.process_time()
b"".join(app(environ, lambda status, headers, exc_info=None: None))
print(time.process_time() - started)
"""


def _first_request_cpu(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", _FIRST_REQUEST, mode, str(CONF)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1], env=os.environ.copy())
    return float(out.stdout.strip().splitlines()[-1])


def test_after_the_warm_up_a_fresh_process_serves_its_first_request_warm() -> None:
    cold, warm = _first_request_cpu("cold"), _first_request_cpu("warm")
    # Cold ~150 ms of CPU, warm < 1 ms: a 5x gap leaves a wide margin on a loaded machine.
    assert warm * 5 < cold, (cold, warm)
