"""`supervisor audit`: verify, show, tail, prove, export, checkpoint and the public key.

For compliance officers and examiners. `verify` exits 0 when every hash, root and
signature holds and every record is covered by a signed checkpoint (or as many as
`--allow-unsigned-tail` allows are not), and 5 (IntegrityError) naming the first bad
record otherwise. `verify`, `show` and `tail` only read: they repair nothing, append
nothing and create no key, so an examiner can run them on a read-only copy. (`show`
and `tail` keep the index sidecar beside a JSONL ledger up to date when they may write
there: a cache, never part of the ledger; on a read-only copy they scan.)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from supervisor.errors import IntegrityError
from supervisor.ledger import Ledger, open_ledger, verify_ledger, verify_proof
from supervisor.ledger.export import Filter, to_csv, to_jsonl
from supervisor.ledger.index import Query, open_query
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
@click.option("--full", is_flag=True,
              help="Verify from genesis instead of from the last verified signed checkpoint.")
@click.option("--state", "state_file", type=click.Path(dir_okay=False),
              help="The verifier's state file (default: ~/.cache/constitutional-supervisor/"
                   "verify/<ledger id>.json, or in $SUPERVISOR_VERIFY_STATE_DIR; never "
                   "inside the ledger).")
@click.option("--jobs", type=click.IntRange(1), default=None,
              help="Processes for a verify from genesis (default: every core).")
@click.option("--progress/--no-progress", default=None,
              help="Print records verified and the rate to stderr (default: on a terminal).")
def verify(public_key: str | None, checkpoints: str | None, allow_unsigned_tail: int,
           strict: bool, as_json: bool, full: bool, state_file: str | None,
           jobs: int | None, progress: bool | None) -> None:
    """Recompute hashes, Merkle roots and signatures; report the first bad record.

    By default only what follows the last signed checkpoint an earlier run verified
    (with the same key) is read, after re-checking that record's hash; --full reads all.
    """
    from supervisor.ledger.verify_state import default_state_file
    from supervisor.settings import current

    show_progress = sys.stderr.isatty() if progress is None else progress
    report, source = verify_ledger(
        public_key=Path(public_key) if public_key else None,
        checkpoints=Path(checkpoints) if checkpoints else None, strict=strict,
        allow_unsigned_tail=allow_unsigned_tail, full=full,
        state=Path(state_file) if state_file else default_state_file(current().ledger),
        jobs=jobs or os.cpu_count() or 1, progress=_Rate() if show_progress else None)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "from_seq": report.start,
                               "key_source": str(source)}))
    elif report.ok:
        Console(highlight=False).print(
            f"[green]ok[/]: {report.records} records (read from seq {report.start}), "
            f"{report.checkpoints} signed checkpoints, unsigned tail "
            f"{report.unsigned_tail}, head {report.head}\n"
            f"trusted key {report.key_id} (from {source})")
    if not report.ok:
        raise IntegrityError(f"record seq {report.bad_seq}: {report.problem} (trusted key "
                             f"{report.key_id} from {source})")


class _Rate:
    """Prints records verified and the rate to stderr, at most about once a second."""

    def __init__(self) -> None:
        self.started = self.shown = time.monotonic()

    def __call__(self, seq: int) -> None:
        now = time.monotonic()
        if now - self.shown >= 1.0:
            self.shown = now
            click.echo(f"verified {seq:,} records, {seq / (now - self.started):,.0f}/s",
                       err=True)


@contextmanager
def _reading() -> Iterator[Query]:
    """The ledger's index over a store opened without writing to the ledger (the index's
    sidecar is a cache beside it; on a copy nobody may write, records are scanned)."""
    from supervisor.ledger import open_store
    from supervisor.settings import current

    settings = current()
    store = open_store(settings.ledger, settings, read_only=True)
    query = open_query(store)
    try:
        yield query
    finally:
        query.close()
        store.close()


@audit.command()
@click.argument("record_id")
def show(record_id: str) -> None:
    """Print one record as stored."""
    with _reading() as query:
        record = query.get(record_id)
    if record is None:
        raise click.ClickException(f"no record {record_id!r}; find ids with `supervisor "
                                   "audit tail` or `audit export`")
    click.echo(json.dumps(record, indent=2, ensure_ascii=False))


@audit.command()
@click.option("-n", "count", default=10, show_default=True, help="How many records.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new records.")
def tail(count: int, follow: bool) -> None:
    """Print the last records, one line each."""
    with _reading() as query:
        last = query.page(Filter(), limit=max(count, 1))
        for record in reversed(last.records[:count]):
            click.echo(_line(record))
        seen = last.records[0]["seq"] + 1 if last.records else 0
        while follow:
            time.sleep(1.0)
            for record in query.matching(Filter(), start=seen):
                click.echo(_line(record))
                seen = record["seq"] + 1


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
@click.option("--constitution", default="", help="A constitution id, or id@version.")
@click.option("--app", default="", help="Records of this app (context app_id).")
@click.option("--stage", default="", help="input or output.")
@click.option("--user-ref", default="", help="Records of this user (context user_ref).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to a file.")
def export(fmt: str, since: str, until: str, action: str | None, principle: str, kind: str,
           constitution: str, app: str, stage: str, user_ref: str,
           output: str | None) -> None:
    """Export records as CSV or JSONL (JSONL keeps the stored bytes, so hashes verify)."""
    keep = Filter(since=since, until=until, action=action or "", principle=principle,
                  kind=kind, constitution=constitution, app=app, stage=stage,
                  user_ref=user_ref)

    async def work(ledger: Ledger) -> Any:
        chosen = list(ledger.query.matching(keep))
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


def _who(given: str) -> str:
    """Who runs an erasure: `--by`, else the login name."""
    import getpass

    try:
        return given or getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


@audit.command()
@click.option("--subject", required=True,
              help="A user_ref, a subject id (subj_...), or the id of a record stored with "
                   "store_text: encrypted (a record without user_ref is its own subject).")
@click.option("--reason", required=True, help="Why, e.g. 'GDPR Art. 17 request of 2026-11-02'.")
@click.option("--by", default="", help="Who erases (default: the login name).")
def erase(subject: str, reason: str, by: str) -> None:
    """Make a subject's encrypted texts unreadable: record an erasure, destroy its keys.

    The chain, checkpoints and proofs are untouched; SUPERVISOR_MASTER_KEY is needed to
    find a subject by its user_ref."""
    from supervisor.ledger.sealed import erase as erase_subject
    from supervisor.ledger.sealed import keys_for

    keys = keys_for(create=False)  # a new master key would find nothing to erase

    async def work(ledger: Ledger) -> Any:
        done = await erase_subject(ledger, keys, subject, reason=reason, by=_who(by))
        await ledger.checkpoint()  # the erasure record is signed at once
        return done

    done = _with_ledger(work)
    click.echo(f"erased on {done.erased_at}: {len(done.key_ids)} data key(s) of subject "
               f"{', '.join(done.subjects)}; erasure record {', '.join(done.records)}")


@audit.command()
@click.option("--days", type=click.IntRange(1), default=None,
              help="Keep texts this many days (default: the constitution's "
                   "defaults.retain_texts_days).")
@click.option("--constitution", default="",
              help="Constitution whose retain_texts_days applies (default: "
                   "SUPERVISOR_CONSTITUTION).")
@click.option("--by", default="", help="Who runs it (default: the login name).")
def retain(days: int | None, constitution: str, by: str) -> None:
    """Erase encrypted texts older than the retention period (reason "retention")."""
    from supervisor.ledger.sealed import keys_for
    from supervisor.ledger.sealed import retain as retain_texts

    if days is None:
        from supervisor.constitution import load_constitution
        from supervisor.settings import current

        loaded = load_constitution(constitution or current().constitution)
        days = loaded.defaults.retain_texts_days
    keys, period = keys_for(create=False), days

    async def work(ledger: Ledger) -> Any:
        done = await retain_texts(ledger, keys, days=period, by=_who(by))
        if done is not None:
            await ledger.checkpoint()
        return done

    done = _with_ledger(work)
    if done is None:
        click.echo(f"nothing to erase: no encrypted texts older than {period} days")
        return
    click.echo(f"erased on {done.erased_at}: {len(done.key_ids)} data key(s) of texts older "
               f"than {period} days (sealed before {done.extra['cutoff']}); erasure record "
               f"{', '.join(done.records)}")
