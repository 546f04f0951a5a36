"""Test support shared by every suite (services' tests, `tests/`, `common/tests`) and by `bench/`.

Import the helpers from their modules; enable the fixtures with `-p common.testing.plugin` in a
pytest.ini `addopts`:

  net          free_port(), port_open()                      (standard library only)
  polling      wait_until(predicate, timeout=, what=), eventually(check), TimedOut
  graphql      GraphQLTestClient (Django's test client), GraphQLHttpClient (httpx, a real server)
  threads      run_concurrently(calls), Background(worker) (a relay/consumer/server in a thread)
  stub_server  StubServer(handle): a real HTTP server on a free port answering with `handle(request)`
  outbox       OutboxLog (outbox rows written since it was made), outbox_for(aggregate_id)
  rows         RowWatch (every table and the cart's Redis, counted), EFFECTS per mutation, check_effects
               (the fuzz tests' "row counts match what succeeded"), create_fodder
  plugin       fixtures: graphql_client, recorded_events, stub_server

`net` and `polling` import nothing outside the standard library, so development tools may use them.
"""
