"""Development tooling behind `manage_all.py`, one job per module; tests and benches import it too.

  paths       where things are (.venv, .run/, gateway/), `say()`
  venv        create .venv, install the pinned requirements, re-exec inside it   (standard library only)
  services    service discovery: services.json (services, subgraphs, their URLs)
  env         the environment of a service process: settings module, running broker, production secrets
  manage      run one service's manage.py; run a command in every service with labelled output
  bootstrap   backing services (PostgreSQL, Redis), databases, migrations, demo data
  supervisor  start long-running processes, watch them, stop them together
  broker      the development Kafka broker (Tansu) and every service's topics
  servers     the services' web servers and their workers (outbox relay, consumer)
  service_redis  a service's own persistent redis-server (services.json "redis")
  gateway     npm ci, supergraph composition, Hive Gateway
  system      `up`, `broker` and `compose`: the above put together
  testrunner  the whole test suite with one summary line

Only `paths` and `venv` run before the virtualenv exists; the others may import installed packages.
"""
