"""gunicorn settings shared by every Django service in production.

Each service is started as `gunicorn <project>.wsgi:application -c deploy/gunicorn.conf.py`.
Measured choices (docs/performance.md): what made the tail 30-200x the median was workers
restarting every few seconds under load (max_requests 2000, each restart re-importing Django
on the shared cores) and full garbage collections walking the whole imported app.
"""

import gc
import io
import multiprocessing
import os
import sys


def _bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in ("1", "true", "yes", "on")


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Threaded workers with HTTP keep-alive: the gateway (Node's keep-alive agent) then reuses its
# connections to the subgraphs instead of opening one per subgraph call, as sync workers force.
# Each thread keeps its own database connection (CONN_MAX_AGE), so PostgreSQL sees workers x threads.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# Longer than the gateway's idle-socket timeout (Node's agent: 5 s), so the client, not the server,
# closes idle connections and never writes a request onto a socket the server is closing.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 75))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
# A leak guard, not a routine: at 2000 requests a worker restarted every ~2 s at 1,000 req/s, and
# every restart cost a Django import on the same cores plus the keep-alive connections it held.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 200_000))
max_requests_jitter = max_requests // 10
# Import the app once in the master: a (re)started worker is a fork, not a fresh Django start.
preload_app = _bool("GUNICORN_PRELOAD", True)
# Off by default: one write per request under a lock shared by the worker's threads measured as the
# largest single cost of a cached answer at c=10 (docs/performance.md). GUNICORN_ACCESS_LOG=- turns it on.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
# gunicorn 27 opens a control socket at ~/.gunicorn/gunicorn.ctl; two services on one host collide.
control_socket_disable = True


def warm_up(app: object, path: str) -> str:
    """Serve one `{ __typename }` request through the preloaded WSGI app, in process, and return its status.

    Why: preloading imports the app but a Django + graphene service does ~150 ms of CPU of lazy work on
    its first request (URLconf and view imports, the schema's type map, graphql-core's validation rules,
    middleware chains). Without this every forked worker paid it on the first request it served, on the
    shared cores: the 0.4-0.8 s requests behind the uncached catalog's p99 spikes (docs/performance.md §3.2).
    Done in the master before gc.freeze, so every fork inherits it. The database connection this may open
    is closed before forking (a socket shared by forks would corrupt both ends)."""
    body = b'{"query": "{ __typename }"}'
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "application/json",
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
               "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": True,
               "wsgi.multiprocess": True, "wsgi.run_once": False, "SERVER_PROTOCOL": "HTTP/1.1"}
    statuses: list[str] = []
    try:
        result = app(environ, lambda status, headers, exc_info=None: statuses.append(status))  # type: ignore[operator]
        for _ in result:
            pass
        getattr(result, "close", lambda: None)()
    finally:
        from django.db import connections

        connections.close_all()
    return statuses[0] if statuses else ""


def when_ready(server: object) -> None:
    """After preloading: warm the app up once (warm_up), then move everything imported and built so far
    out of the collector's sight (gc.freeze), so full collections in the workers walk only the objects
    requests create, not the whole of Django, graphene and the schema (those pauses were the p99), and
    forked pages stay shared."""
    if not preload_app:
        return
    path = os.environ.get("GUNICORN_WARMUP_PATH", "/graphql/")
    if path:
        try:
            status = warm_up(server.app.wsgi(), path)  # type: ignore[attr-defined]
            server.log.info("warm-up %s: %s", path, status)  # type: ignore[attr-defined]
        except Exception:  # a warm-up must never keep a service from starting
            server.log.exception("warm-up %s failed; workers warm up on their first request", path)  # type: ignore[attr-defined]
    if _bool("GUNICORN_GC_FREEZE", True):
        gc.collect()
        gc.freeze()
