"""`supervisor constitution propose|approve|reject`: four-eyes activation from a terminal.

These are clients of a running service (`supervisor serve`), never writers of the
ledger: who proposes and who approves is the name of the API key the service knows, so
one person cannot sign both steps by typing two names. The key is prompted for (hidden)
unless given with `--key`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from supervisor.errors import ConfigError, SupervisorError

SERVER = "http://127.0.0.1:8000"
_server = click.option("--server", default=SERVER, show_default=True, metavar="URL",
                       help="The running service (`supervisor serve`).")
_key = click.option("--key", prompt="API key", hide_input=True, metavar="KEY",
                    help="Your API key (prompted for, hidden, when not given).")
_json = click.option("--json", "as_json", is_flag=True, help="Print the proposal as JSON.")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--constitution", "-c", "constitution_id", default=None, metavar="ID",
              help="The constitution to change (default: the file's `id`).")
@click.option("--attach", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, metavar="REPORT",
              help="A replay report (`supervisor replay --json` output, or report.md).")
@click.option("--note", default="", help="Why the change is proposed.")
@_server
@_key
@_json
def propose(file: Path, constitution_id: str | None, attach: Path | None, note: str,
            server: str, key: str, as_json: bool) -> None:
    """Propose FILE as the new version of its constitution (admin key); a different
    person approves it with `supervisor constitution approve ID`."""
    import yaml

    text = file.read_text(encoding="utf-8")
    if constitution_id is None:
        raw = yaml.safe_load(text)
        constitution_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(constitution_id, str):
            raise ConfigError(f"{file} has no `id`; pass --constitution ID")
    body: dict[str, Any] = {"constitution": constitution_id, "yaml": text, "note": note}
    if attach is not None:
        body["attachment"] = attach.read_text(encoding="utf-8")
    found = _call(server, key, "POST", "", body)
    _show(found, as_json, f"proposed {found['constitution']} {found['new']['version']} as "
                          f"{found['id']}; another admin or an auditor approves it with "
                          f"`supervisor constitution approve {found['id']}`")


@click.command()
@click.argument("proposal_id", metavar="ID")
@click.option("--note", default="", help="A note kept with the approval.")
@_server
@_key
@_json
def approve(proposal_id: str, note: str, server: str, key: str, as_json: bool) -> None:
    """Approve proposal ID and activate its version (not its proposer's key)."""
    found = _call(server, key, "POST", f"/{proposal_id}/approve", {"note": note})
    _show(found, as_json, f"approved: {found['constitution']} {found['new']['version']} "
                          f"is active (sha256 {found['new']['sha256'][:12]})")


@click.command()
@click.argument("proposal_id", metavar="ID")
@click.option("--reason", required=True, help="Why it is rejected.")
@_server
@_key
@_json
def reject(proposal_id: str, reason: str, server: str, key: str, as_json: bool) -> None:
    """Reject proposal ID, with the reason."""
    found = _call(server, key, "POST", f"/{proposal_id}/reject", {"reason": reason})
    _show(found, as_json, f"rejected {found['id']}: {found['reason']}")


def _call(server: str, key: str, method: str, path: str, body: dict[str, Any]
          ) -> dict[str, Any]:
    import httpx2

    url = f"{server.rstrip('/')}/v1/constitutions/proposals{path}"
    try:
        answer = httpx2.request(method, url, json=body, timeout=60,
                                headers={"authorization": f"Bearer {key.strip()}"})
    except httpx2.HTTPError as exc:
        raise ConfigError(f"cannot reach the service at {server} ({exc}); start it with "
                          "`supervisor serve` or pass --server URL") from None
    try:
        found: dict[str, Any] = answer.json()
    except ValueError:
        found = {}
    if answer.status_code >= 400:
        message = (found.get("error") or {}).get("message") or answer.text[:200]
        raise SupervisorError(f"the service refused ({answer.status_code}): {message}")
    return found


def _show(found: dict[str, Any], as_json: bool, line: str) -> None:
    click.echo(json.dumps(found, indent=2, ensure_ascii=False) if as_json else line)
