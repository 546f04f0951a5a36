"""gunicorn settings shared by every Django service in production.

Each service is started as `gunicorn <project>.wsgi:application -c deploy/gunicorn.conf.py`.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: the services are request/response over PostgreSQL and Redis.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
# gunicorn 27 opens a control socket at ~/.gunicorn/gunicorn.ctl; two services on one host collide.
control_socket_disable = True
