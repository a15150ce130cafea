"""`supervisor serve`: run the HTTP service (moderation, supervision, proxies, audit).

With SUPERVISOR_API_KEYS unset, keys are generated on first start (one per role), kept
owner-only beside the ledger's signing key, and printed with a copy-paste example for
each SDK. Ctrl-C or SIGTERM shuts down gracefully: the ledger is flushed and checkpointed.
"""

from __future__ import annotations

import os

import click
from rich.console import Console

from supervisor.settings import current


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

    from api import Service, create_app
    from api.keys import Keys, configured_keys
    from api.logs import configure

    settings = current()
    keys = configured_keys(settings)
    if not settings.api_keys:  # workers read the same keys from the environment
        os.environ["SUPERVISOR_API_KEYS"] = ",".join(f"{r}:{n}:{k}" for r, n, k in keys)
    os.environ["SUPERVISOR_LOG_LEVEL"] = log_level
    _banner(host, port, keys, from_file=not settings.api_keys,
            where=str(settings.signing_key_dir))
    configure(log_level)
    common = {"host": host, "port": port, "log_level": log_level, "access_log": False,
              "log_config": None, "timeout_graceful_shutdown": 10}
    if workers == 1:
        uvicorn.run(create_app(Service.configured(settings, keys=Keys(keys))), **common)  # type: ignore[arg-type]
    else:
        # uvicorn kills a worker that misses a 5 s health ping; a worker loading spaCy and
        # torch, or busy with local checks that hold the GIL, can miss it while healthy,
        # and the killed worker's in-flight requests and warm-up were lost (measured:
        # transport errors and a ~10x drop under 64 connections); 60 s still catches a hang
        uvicorn.run("api.app:from_environment", factory=True, workers=workers,
                    timeout_worker_healthcheck=60, **common)  # type: ignore[arg-type]


def _banner(host: str, port: int, keys: list[tuple[str, str, str]], *, from_file: bool,
            where: str) -> None:
    console = Console(highlight=False)
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host
    url = f"http://{shown}:{port}"
    app_key = next((k for r, _, k in keys if r == "app"), "APP_KEY")
    console.print(f"[bold]Constitutional supervisor[/] on {url}  (docs: {url}/docs, "
                  f"review console: {url}/console)")
    if from_file:
        console.print(f"API keys (generated once, stored owner-only in {where}/api-keys):")
    else:
        console.print("API keys (from SUPERVISOR_API_KEYS):")
    for role, name, key in keys:
        console.print(f"  {role:8} {name:14} {key}")
    console.print(f"""
[bold]OpenAI SDK[/] (model: local:smollm2 is the embedded model; any vendor:model works)
  from openai import OpenAI
  client = OpenAI(base_url="{url}/v1", api_key="{app_key}")
  client.chat.completions.create(model="local:smollm2",
      messages=[{{"role": "user", "content": "What is a normal resting heart rate?"}}])
  client.moderations.create(model="healthcare", input="Patient John Smith, SSN 123-45-6789")

[bold]Anthropic SDK[/]
  from anthropic import Anthropic
  client = Anthropic(base_url="{url}", api_key="{app_key}")
  client.messages.create(model="local:smollm2", max_tokens=200,
      messages=[{{"role": "user", "content": "What is a normal resting heart rate?"}}])

[bold]curl[/]
  curl -s {url}/v1/moderations -H "Authorization: Bearer {app_key}" \\
       -H "content-type: application/json" -d '{{"input": "Take 6000 mg of acetaminophen"}}'
""")
