"""The `supervisor` command line. Each command group lives in its own module.

Commands are imported only when used, so `supervisor audit verify` does not load spaCy
or llama.cpp. Errors of the project's own tree exit with their class's `exit_code` and a
one-line message; no stack trace reaches the user.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from supervisor.errors import SupervisorError

# command name -> "module:attribute"
COMMANDS = {
    "check": "supervisor.cli.check:check",
    "run": "supervisor.cli.check:run",
    "constitution": "supervisor.cli.constitution:constitution",
    "audit": "supervisor.cli.audit:audit",
    "eval": "supervisor.cli.evaluate:evaluate",
    "calibrate": "supervisor.cli.evaluate:calibrate",
    "fit-exchange": "supervisor.cli.fit:fit_exchange",
    "serve": "supervisor.cli.serve:serve",
    "demo": "supervisor.cli.demo:demo",
    "replay": "supervisor.cli.replay:replay_command",
}
# optional dependencies -> the extra of pyproject.toml that installs them
EXTRAS = {"sklearn": "eval", "matplotlib": "eval", "ray": "replay"}


class _Lazy(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_Lazy, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="constitutional-supervisor")
def cli() -> None:
    """Supervise model answers against a constitution and keep a verifiable audit ledger."""


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: run the CLI, turning project errors into a message and exit code."""
    try:
        status = cli.main(args=argv, standalone_mode=False)
        if isinstance(status, int) and status:
            sys.exit(status)
        return status
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except SupervisorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except ModuleNotFoundError as exc:
        needed = missing_extra(exc)
        if needed is None:
            raise
        click.echo(f"error: {needed}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """What to install when `exc` is an optional dependency missing, else None."""
    extra = EXTRAS.get((exc.name or "").partition(".")[0])
    if extra is None:
        return None
    return (f"this command needs {exc.name}, which the [{extra}] extra installs: "
            f"pip install 'constitutional-supervisor[{extra}]'")
