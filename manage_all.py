#!/usr/bin/env python3
"""One entry point for the whole platform: `python3 manage_all.py up`, `python3 manage_all.py test`.

A thin command line over the `devtools` package. It runs with the system python3 first: it parses
the command line (standard library only), creates `.venv` and re-executes itself inside it.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import NoReturn

from devtools.paths import ROOT

SCRIPT = Path(__file__).resolve()

# Commands whose arguments go untouched to another tool (pytest, manage.py).
PASSTHROUGH = {"test"}
# Old spellings, kept: `manage_all.py migrate` is `manage_all.py manage migrate`.
MANAGE_ALIASES = {
    "migrate": "apply migrations in every service",
    "check": "Django's system checks in every service (`check --deploy`: with production settings)",
    "showmigrations": "migrations of every service",
}

EPILOG = """examples:
  python3 manage_all.py up                  run the whole system (Ctrl-C stops it)
  python3 manage_all.py test -k pagination  the whole suite, extra arguments go to pytest
  python3 manage_all.py test catalog -x     one suite (suite names first: common, <service>, cross-service)
  python3 manage_all.py manage check        `manage.py check` in every service, output labelled [service]
  python3 manage_all.py check --deploy      the deployment checks with production settings
  python3 manage_all.py <command> --help    the options of one command
"""


class Parser(argparse.ArgumentParser):
    """argparse with a hint on errors: the closest command or option ("did you mean ...?")."""

    subcommands: dict[str, Parser]

    def error(self, message: str) -> NoReturn:
        hint = self.hint(message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}{hint}\n{self.prog}: see `{self.prog} --help`\n")

    def hint(self, message: str) -> str:
        words: list[str] = []
        if "invalid choice:" in message:
            words = [message.split("invalid choice:", 1)[1].split("'")[1]]
            candidates = [name for action in self._actions if action.choices for name in action.choices]  # type: ignore[union-attr]
        elif message.startswith("unrecognized arguments:"):
            words = message.split(":", 1)[1].split()
            candidates = [option for action in self._actions for option in action.option_strings]
        else:
            return ""
        for word in words:
            close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.5)
            if close:
                return f" (did you mean {close[0]!r}?)"
        return ""


def build_parser() -> Parser:
    parser = Parser(prog="manage_all.py", description=__doc__, epilog=EPILOG, allow_abbrev=False,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True, parser_class=Parser)

    def command(name: str, summary: str, description: str | None = None) -> Parser:
        return commands.add_parser(name, help=summary, description=description or summary, allow_abbrev=False,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)

    up = command("up", "set up everything and run the system until Ctrl-C",
                 "Set up (virtualenv, databases, migrations, demo data) and run the broker, every service of\n"
                 "services.json, their outbox relays and consumers, and the gateway. Ctrl-C stops everything.\n"
                 "Logs go to .run/<name>.log.")
    up.add_argument("--prod", action="store_true", help="gunicorn and production settings (no GraphiQL, masked errors)")
    command("test", "lint and run every test suite (what CI runs); extra arguments go to pytest",
            "ruff check ., then the tests of common/, of each service and the cross-service tests in tests/.\n"
            "Leading suite names run only those suites (`test catalog cross-service`: common, catalog, cart,\n"
            "orders, accounts, cross-service); every other argument goes to each pytest run, e.g.\n"
            "`test -k pagination -x`, `test catalog -k stock`.\n"
            "The last line is `all suites: N passed, N failed, N skipped`.")
    command("setup", "virtualenv, requirements, databases, migrations, demo data")
    command("compose", "compose gateway/supergraph.graphql from the subgraphs (started for the occasion if needed)")
    command("broker", "run only the development Kafka broker (Tansu, in memory) until Ctrl-C")
    command("services", "list the services of services.json")
    manage = command("manage", "run a manage.py command in every service (output labelled [service])",
                     "Run `manage.py <args>` in each service in turn; every line of output starts with\n"
                     "[<service>]. The exit status is the worst one. `check --deploy` runs with production\n"
                     "settings. Options of manage_all come before the command: `manage --service catalog migrate`.")
    manage.add_argument("--service", action="append", metavar="NAME", help="only this service (repeatable)")
    manage.add_argument("--prod", action="store_true", help="with production settings (implied by `check --deploy`)")
    manage.add_argument("args", nargs=argparse.REMAINDER, metavar="<manage.py args>")
    for alias, summary in MANAGE_ALIASES.items():
        command(alias, f"{summary} (same as `manage {alias} ...`)")
    parser.subcommands = commands.choices
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    if not argv or argv == ["help"]:  # as before argparse: the overview
        parser.print_help()
        parser.exit(0)
    if (argv[0] in PASSTHROUGH or argv[0] in MANAGE_ALIASES) and argv[1:2] not in (["-h"], ["--help"]):
        options = parser.parse_args(argv[:1])
        options.args = argv[1:]  # untouched: they belong to pytest / manage.py
        return options
    options, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.subcommands[options.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    if options.command == "manage" and not options.args:
        parser.subcommands["manage"].error("a manage.py command is required, e.g. `manage check`")
    return options


# Before devtools, tests and benches imported this script as a library (`manage_all.start_services`).
# Those names still resolve, with a warning, while branches written that way are merged; new code
# imports devtools.<module> directly.
_MOVED = {
    "devtools.services": ("load_config", "services", "subgraphs", "graphql_urls"),
    "devtools.supervisor": ("Supervisor", "stop_on_signals", "supervise_until_interrupted"),
    "devtools.bootstrap": ("ensure_backing_services", "ensure_databases", "setup"),
    "devtools.env": ("service_env", "production_env", "running_broker_address", "BROKER_ADDRESS_FILE"),
    "devtools.manage": ("manage",),
    "devtools.servers": ("start_services", "start_workers", "service_command"),
    "devtools.service_redis": ("start_service_redis",),
    "devtools.gateway": ("ensure_gateway_dependencies", "compose_supergraph", "start_gateway"),
    "devtools.broker": ("start_broker",),
    "devtools.paths": ("VENV", "VENV_PYTHON", "LOG_DIR", "GATEWAY_DIR"),
}


def __getattr__(name: str) -> object:
    import importlib
    import warnings

    for module, names in _MOVED.items():
        if name in names:
            warnings.warn(f"manage_all.{name} moved: import it from {module}", DeprecationWarning, stacklevel=2)
            return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'manage_all' has no attribute {name!r}")


def list_services() -> int:
    from devtools.services import services

    for service in services():
        print(f"{service['name']:<10} {service['project']:<18} port {service['port']}")
    return 0


def run_manage(args: list[str], *, names: list[str] | None = None, production: bool = False) -> int:
    from devtools.bootstrap import ensure_backing_services
    from devtools.env import production_env, service_env
    from devtools.manage import manage_everywhere
    from devtools.services import select

    try:
        chosen = select(names)
    except ValueError as error:
        raise SystemExit(f"[manage_all] {error}")
    deploy_check = args[:1] == ["check"] and "--deploy" in args
    ensure_backing_services()
    if production or deploy_check:
        # The deployment checks see production as deployed (secure cookies); `--prod` is `up --prod`'s environment.
        extra = production_env(loopback=not deploy_check)
        return manage_everywhere(chosen, args, env_for=lambda s: service_env(s, "prod", extra))
    return manage_everywhere(chosen, args)


def main(argv: list[str]) -> int:
    options = parse(argv)
    if options.command == "services":
        return list_services()
    from devtools.venv import ensure_virtualenv

    ensure_virtualenv(SCRIPT, argv)  # from here on, inside .venv
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if options.command == "up":
        from devtools.system import up

        return up(production=options.prod)
    if options.command == "test":
        from devtools.testrunner import run_tests

        return run_tests(options.args)
    if options.command == "setup":
        from devtools.bootstrap import setup

        setup()
        return 0
    if options.command == "compose":
        from devtools.system import compose

        return compose()
    if options.command == "broker":
        from devtools.system import broker

        return broker()
    if options.command == "manage":
        return run_manage(options.args, names=options.service, production=options.prod)
    return run_manage([options.command, *options.args])  # an alias: migrate, check, showmigrations


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
