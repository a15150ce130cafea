"""`supervisor serve`: run the HTTP service (moderation, supervision, proxies, audit).

With SUPERVISOR_API_KEYS unset, keys are generated on first start (one per role) and
kept owner-only beside the ledger's signing key. The secrets are printed once, by the
start that generated them, with a copy-paste example for each SDK; every later start,
and any start with keys from SUPERVISOR_API_KEYS, prints the keys' names and roles and
where they are kept, never a secret (a start-up banner ends up in terminals, CI logs and
journald). Workers read the same key file, so no secret travels in their environment.
Ctrl-C or SIGTERM shuts down gracefully: the ledger is flushed and checkpointed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape

from supervisor.settings import Settings, current

if TYPE_CHECKING:
    from api.keys import Configured


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (they share the ledger).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def serve(host: str, port: int, workers: int, log_level: str) -> None:
    """Serve /v1/moderations, /v1/supervise, /v1/chat/completions, /v1/messages, /v1/audit."""
    import uvicorn

    from api.keys import Keys, configured
    from api.logs import configure
    from supervisor.cli.workers import hold, run, supported

    settings = current()
    source = configured(settings)  # generated here, once; workers read the same file
    keys = Keys(source.keys)  # a bad key is refused here, not by each worker after forking
    preflight(settings)
    # several workers: the port is taken now, so one in use is refused before the banner
    held = hold(host, port) if workers > 1 and supported() else None
    port = held.getsockname()[1] if held is not None else port
    os.environ["SUPERVISOR_LOG_LEVEL"] = log_level
    banner(Console(highlight=False), host, port, source)
    configure(log_level)
    # Any: uvicorn.run types each keyword apart, and these are the same for both calls
    common: dict[str, Any] = {"host": host, "port": port, "log_level": log_level,
                              "access_log": False, "log_config": None,
                              "timeout_graceful_shutdown": 10}
    if workers == 1:
        from api import Service, create_app

        uvicorn.run(create_app(Service.configured(settings, keys=keys)), **common)
    elif held is not None:  # each worker accepts on a socket of its own (see `workers`)
        del common["host"], common["port"]
        raise SystemExit(run(workers, held, common))
    else:
        # uvicorn kills a worker that misses a 5 s health ping; a worker loading spaCy and
        # torch, or busy with local checks that hold the GIL, can miss it while healthy,
        # and the killed worker's in-flight requests and warm-up were lost (measured:
        # transport errors and a ~10x drop under 64 connections); 60 s still catches a hang
        uvicorn.run("api.app:from_environment", factory=True, workers=workers,
                    timeout_worker_healthcheck=60, **common)


def preflight(settings: Settings) -> None:
    """Try once, before any server starts, what each one's start-up would fail on: the
    default constitution loads, the ledger's store opens and the rate limits' storage is
    one `limits` knows. A mistake in any is then one clear error (see
    `supervisor.cli.main`) before the banner, not a stack trace for every worker."""
    from api.quotas import Quotas
    from supervisor.constitution import load_constitution
    from supervisor.ledger import open_store

    load_constitution(settings.constitution)
    open_store(settings.ledger, settings).close()
    Quotas.configured(settings)


def banner(console: Console, host: str, port: int, source: Configured) -> None:
    """The start-up message: URLs, the keys (secrets only when just generated), examples.

    Every line is printed whole (`soft_wrap`): the terminal may fold a long line on screen,
    but no newline is written into a key, a URL or a string literal, so a pasted example
    runs at any terminal width. Each example is one command per line, flush left, so it
    pastes into a shell or a Python prompt as it is.
    """
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host
    url = f"http://{shown}:{port}"
    app_key = "APP_KEY"
    lines = [f"[bold]Constitutional supervisor[/] on {url}  (docs: {url}/docs, "
             f"review console: {url}/console)"]
    if source.created:
        app_key = next((k for r, _, k in source.keys if r == "app"), app_key)
        lines.append(f"API keys, generated now and shown only this once (kept owner-only "
                     f"in {escape(source.where)}):")
        lines += [escape(f"  {role:8} {name:14} {key}") for role, name, key in source.keys]
    else:
        lines.append(f"API keys (secrets not shown; kept in {escape(source.where)}):")
        lines += [escape(f"  {role:8} {name}") for role, name, _ in source.keys]
        lines.append(f"  In the examples, APP_KEY is the app key from {escape(source.where)}.")
    lines += ["", *examples(url, app_key)]
    for line in lines:
        console.print(line, soft_wrap=True)


def examples(url: str, app_key: str) -> list[str]:
    """The banner's copy-paste examples (Rich markup): a bold title, then one command a line."""
    question = '[{"role": "user", "content": "What is a normal resting heart rate?"}]'
    body = '{"model": "healthcare", "input": "Take 6000 mg of acetaminophen"}'
    return [escape(line) if not line.startswith("[bold]") else line for line in [
        "[bold]OpenAI SDK[/] (model: local:smollm2 is the embedded model; any vendor:model "
        "works)",
        "from openai import OpenAI",
        f'client = OpenAI(base_url="{url}/v1", api_key="{app_key}")',
        f'client.chat.completions.create(model="local:smollm2", messages={question})',
        'client.moderations.create(model="healthcare", '
        'input="Patient John Smith, SSN 123-45-6789")',
        "",
        "[bold]Anthropic SDK[/]",
        "from anthropic import Anthropic",
        f'client = Anthropic(base_url="{url}", api_key="{app_key}")',
        f'client.messages.create(model="local:smollm2", max_tokens=200, messages={question})',
        "",
        "[bold]curl[/] (the healthcare constitution blocks this answer)",
        f'curl -s {url}/v1/moderations -H "Authorization: Bearer {app_key}" '
        f"-H \"content-type: application/json\" -d '{body}'",
        "",
    ]]
