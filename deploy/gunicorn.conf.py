"""gunicorn settings shared by every Django service in production.

Each service is started as `gunicorn <project>.wsgi:application -c deploy/gunicorn.conf.py`.
"""

import multiprocessing
import os

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
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
# gunicorn 27 opens a control socket at ~/.gunicorn/gunicorn.ctl; two services on one host collide.
control_socket_disable = True
