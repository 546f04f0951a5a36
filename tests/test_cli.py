"""manage_all.py, the command line: subcommands with --help, errors with a hint, labelled output per service."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import service_names

import manage_all
from devtools.paths import ROOT


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # The venv's python: manage_all sees it runs inside .venv and does not re-exec.
    return subprocess.run([sys.executable, str(ROOT / "manage_all.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def subcommands() -> list[str]:
    return sorted(manage_all.build_parser().subcommands)


def test_every_readme_command_is_a_subcommand():
    assert {"up", "test", "setup", "compose", "broker", "services", "manage", "migrate", "check",
            "showmigrations"} <= set(subcommands())


@pytest.mark.parametrize("command", subcommands())
def test_each_subcommand_has_its_own_help(command):
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: manage_all.py {command}")


@pytest.mark.parametrize("args", [["--help"], [], ["help"]], ids=["--help", "nothing", "help"])
def test_top_level_help_lists_the_commands(args):
    result = run(*args)
    assert result.returncode == 0
    for command in ("up", "test", "manage"):
        assert f"    {command} " in result.stdout


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["migrat"], "did you mean 'migrate'?"),
        (["tset"], "did you mean 'test'?"),
        (["up", "--prdo"], "did you mean '--prod'?"),
        (["compose", "--prod"], "unrecognized arguments: --prod"),
        (["manage"], "a manage.py command is required"),
    ],
)
def test_unknown_command_or_option_is_an_error_with_a_hint(args, hint):
    result = run(*args)
    assert result.returncode == 2
    assert hint in result.stderr
    assert "usage: manage_all.py" in result.stderr and "Traceback" not in result.stderr


def test_arguments_of_test_and_of_the_aliases_go_untouched_to_pytest_and_manage_py():
    assert manage_all.parse(["test", "-k", "a and not b", "-x"]).args == ["-k", "a and not b", "-x"]
    assert manage_all.parse(["check", "--deploy"]).args == ["--deploy"]
    options = manage_all.parse(["manage", "--service", "catalog", "migrate", "--plan"])
    assert (options.service, options.args) == (["catalog"], ["migrate", "--plan"])


def test_manage_labels_every_line_with_its_service():
    result = run("manage", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if not line.startswith("[manage_all] ")]  # its own notes
    assert lines and all(line.startswith(tuple(f"[{name}] " for name in service_names())) for line in lines), lines
    for name in service_names():
        assert f"[{name}] System check identified no issues" in result.stdout


def test_manage_runs_in_one_service_and_refuses_an_unknown_one():
    [name, *_] = sorted(service_names())
    result = run("manage", "--service", name, "check")
    assert result.returncode == 0
    labels = {line.split("]")[0] + "]" for line in result.stdout.splitlines() if not line.startswith("[manage_all] ")}
    assert labels == {f"[{name}]"}
    unknown = run("manage", "--service", "nosuch", "check")
    assert unknown.returncode != 0 and "not in services.json: nosuch" in unknown.stderr


def test_check_deploy_runs_with_production_settings_and_a_missing_variable_is_one_clear_line():
    result = run("check", "--deploy", env={"DJANGO_SECRET_KEY": ""})
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if not line.startswith("[manage_all] ")]
    assert len(lines) == len(service_names()), lines
    for name in service_names():
        assert any(line.startswith(f"[{name}] ") and ".settings.prod: DJANGO_SECRET_KEY is not set" in line for line in lines)


def test_check_deploy_passes_with_the_production_environment_manage_all_provides():
    result = run("check", "--deploy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "security.W012" not in result.stdout  # secure cookies: the deployment checks see production as deployed


def test_worker_commands_default_to_the_development_broker_port():
    """Running one service alone: relay_outbox/consume/create_topics find `manage_all.py broker` without settings."""
    code = "from common.events.conf import DEFAULTS; from common.settings import defaults; " \
           "print(DEFAULTS['KAFKA_BOOTSTRAP_SERVERS'], defaults.KAFKA_BOOTSTRAP_SERVERS)"
    env = {key: value for key, value in os.environ.items() if key != "KAFKA_BOOTSTRAP_SERVERS"}
    output = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    from devtools.services import broker_port

    assert output.split() == [f"127.0.0.1:{broker_port()}"] * 2


def test_the_old_library_names_still_resolve_to_devtools_with_a_warning():
    from devtools import servers

    with pytest.warns(DeprecationWarning, match="import it from devtools.servers"):
        assert manage_all.start_services is servers.start_services
    with pytest.raises(AttributeError):
        manage_all.no_such_name
