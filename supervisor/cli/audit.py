"""`supervisor audit`: verify, show, tail, prove, export, checkpoint and the public key.

For compliance officers and examiners. `verify` exits 0 when every hash, root and
signature holds and every record is covered by a signed checkpoint (or as many as
`--allow-unsigned-tail` allows are not), and 5 (IntegrityError) naming the first bad
record otherwise. `verify`, `show` and `tail` only read: they repair nothing, append
nothing and create no key, so an examiner can run them on a read-only copy.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from supervisor.errors import IntegrityError
from supervisor.ledger import Ledger, open_ledger, verify_ledger, verify_proof
from supervisor.ledger.export import Filter, select, to_csv, to_jsonl
from supervisor.syncio import run_sync

T = TypeVar("T")


def _with_ledger(work: Callable[[Ledger], Awaitable[T]]) -> T:
    async def run() -> T:
        ledger = await open_ledger()
        try:
            return await work(ledger)
        finally:
            ledger.store.close()

    return run_sync(run())


@click.group()
def audit() -> None:
    """Read, verify, prove and export the audit ledger (SUPERVISOR_LEDGER)."""


@audit.command()
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
              help="PEM public key to trust (default: the one published beside the ledger; "
                   "an examiner should pass the copy they were given).")
@click.option("--checkpoints", type=click.Path(exists=True, dir_okay=False),
              help="A checkpoint file kept off the machine (default: the ledger's own).")
@click.option("--allow-unsigned-tail", type=click.IntRange(0), default=0, show_default=True,
              help="How many records after the last signed checkpoint to accept.")
@click.option("--strict", is_flag=True,
              help="Also check every line is canonical JSON (for ledgers other tools wrote).")
@click.option("--json", "as_json", is_flag=True)
def verify(public_key: str | None, checkpoints: str | None, allow_unsigned_tail: int,
           strict: bool, as_json: bool) -> None:
    """Recompute every hash, Merkle root and signature; report the first bad record."""
    report, source = verify_ledger(
        public_key=Path(public_key) if public_key else None,
        checkpoints=Path(checkpoints) if checkpoints else None, strict=strict,
        allow_unsigned_tail=allow_unsigned_tail)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "key_source": str(source)}))
    elif report.ok:
        Console(highlight=False).print(
            f"[green]ok[/]: {report.records} records, {report.checkpoints} signed "
            f"checkpoints, unsigned tail {report.unsigned_tail}, head {report.head}\n"
            f"trusted key {report.key_id} (from {source})")
    if not report.ok:
        raise IntegrityError(f"record seq {report.bad_seq}: {report.problem} (trusted key "
                             f"{report.key_id} from {source})")


def _stored() -> list[dict[str, Any]]:
    """Every record, read without opening the ledger for writing."""
    from supervisor.ledger import open_store
    from supervisor.settings import current

    settings = current()
    store = open_store(settings.ledger, settings, read_only=True)
    try:
        return [json.loads(line) for line in store.lines()]
    finally:
        store.close()


@audit.command()
@click.argument("record_id")
def show(record_id: str) -> None:
    """Print one record as stored."""
    record = next((r for r in _stored() if r["id"] == record_id), None)
    if record is None:
        raise click.ClickException(f"no record {record_id!r}; find ids with `supervisor "
                                   "audit tail` or `audit export`")
    click.echo(json.dumps(record, indent=2, ensure_ascii=False))


@audit.command()
@click.option("-n", "count", default=10, show_default=True, help="How many records.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new records.")
def tail(count: int, follow: bool) -> None:
    """Print the last records, one line each."""
    records = _stored()
    for record in records[-count:] if count else []:
        click.echo(_line(record))
    seen = len(records)
    while follow:
        time.sleep(1.0)
        records = _stored()
        for record in records[seen:]:
            click.echo(_line(record))
        seen = len(records)


def _line(record: dict[str, Any]) -> str:
    body = record.get("body") or {}
    what = body.get("action") or body.get("problem") or body.get("size") or ""
    violated = ",".join(body.get("violated") or [])
    return f"{record['seq']:>7} {record['ts']} {record['id']} {record['kind']:<10} {what} " \
           f"{violated}".rstrip()


@audit.command()
@click.argument("record_id", required=False)
@click.option("--check", "check_file", type=click.Path(exists=True, dir_okay=False),
              help="Verify a saved proof offline instead of making one.")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
              help="PEM public key for --check (default: the ledger's own key).")
def prove(record_id: str | None, check_file: str | None, public_key: str | None) -> None:
    """Print an RFC 6962 inclusion proof of RECORD_ID, or check a saved one (--check)."""
    if check_file:
        proof = json.loads(Path(check_file).read_text())
        key = Path(public_key).read_bytes() if public_key else _with_ledger(_pem)
        if not verify_proof(proof, key):
            raise IntegrityError("the proof does not verify with this public key")
        click.echo(f"ok: record {proof['record_id']} is leaf {proof['seq']} of the signed "
                   f"tree of {proof['tree_size']} records")
        return
    if not record_id:
        raise click.UsageError("give RECORD_ID, or --check PROOF.json")

    async def work(ledger: Ledger) -> Any:
        return ledger.prove(record_id).to_dict()

    click.echo(json.dumps(_with_ledger(work), indent=2))


async def _pem(ledger: Ledger) -> bytes:
    return ledger.public_pem


@audit.command()
def checkpoint() -> None:
    """Sign a checkpoint of everything recorded so far, now."""
    async def work(ledger: Ledger) -> Any:
        return await ledger.checkpoint()

    receipt = _with_ledger(work)
    click.echo(f"checkpoint {receipt.id} at seq {receipt.seq}")


@audit.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl",
              show_default=True)
@click.option("--since", default="", help="ISO time, e.g. 2026-01-01 (inclusive).")
@click.option("--until", default="",
              help="ISO time (inclusive); a bare date means the end of that day.")
@click.option("--action", type=click.Choice(["allow", "revise", "block", "escalate", "error"]))
@click.option("--principle", default="",
              help="Decisions where this principle fired (violated, or revised away).")
@click.option("--kind", default="", help="decision, review, access, checkpoint, ...")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to a file.")
def export(fmt: str, since: str, until: str, action: str | None, principle: str, kind: str,
           output: str | None) -> None:
    """Export records as CSV or JSONL (JSONL keeps the stored bytes, so hashes verify)."""
    keep = Filter(since=since, until=until, action=action or "", principle=principle,
                  kind=kind)

    async def work(ledger: Ledger) -> Any:
        chosen = list(select(ledger.records_in_order(), keep))
        text = to_csv(chosen) if fmt == "csv" else to_jsonl(chosen)
        await ledger.append("export", {"format": fmt, "records": len(chosen),
                                       "filter": asdict(keep)})
        return text

    text = _with_ledger(work)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@audit.command()
@click.option("--public", "public", is_flag=True, required=True,
              help="Print the public key (PEM) examiners verify with.")
def key(public: bool) -> None:
    """Print the ledger's public signing key."""
    click.echo(_with_ledger(_pem).decode(), nl=False)
