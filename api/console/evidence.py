"""Evidence export: one zip an examiner can verify offline with `supervisor audit verify`.

The zip holds the records of the period (JSONL exactly as stored, and CSV), the chain
they belong to (`ledger/`, JSONL segments in the embedded store's own layout, from the
first record through a checkpoint signed for this export, with the shipped checkpoint
file), the checkpoints, the public key, a summary report and a README saying how to
verify. The chain is written by `JsonlStore` itself, so it is laid out exactly as the
CLI reads it. A hash chain can only be verified from its start, so `ledger/` holds the
records before and after the period too, with their texts as the ledger stored them.

The export is recorded (`kind: access`) before the checkpoint is signed, so the zip's
own chain shows who exported what.
"""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Response

from api.access import ServiceDep
from api.console.render import HEADERS, ConsoleRoute, bad_filter, environment, page
from api.console.session import PATH, ReaderDep, WriterDep
from api.records import BadFilter, everything, filter_of, recorded
from supervisor.ledger import CHECKPOINT_FILE, Ledger
from supervisor.ledger.canonical import canonical
from supervisor.ledger.export import fired, to_csv, to_jsonl
from supervisor.ledger.jsonl import SEGMENT_RECORDS, JsonlStore, Seal
from supervisor.ledger.signing import key_id

router = APIRouter(prefix=PATH, route_class=ConsoleRoute, include_in_schema=False)
LEDGER_DIR = "ledger"
PUBLIC_KEY = "public-key.pem"


@router.get("/export")
async def export_form(user: ReaderDep) -> Response:
    """The export form: a period and, optionally, narrower filters."""
    return page("export.html", user)


@router.post("/export")
async def export(service: ServiceDep, user: WriterDep,
                 since: Annotated[str, Form()] = "", until: Annotated[str, Form()] = "",
                 action: Annotated[str, Form()] = "", app: Annotated[str, Form()] = ""
                 ) -> Response:
    """Build the evidence zip for the period; the export is recorded first."""
    try:
        keep = filter_of({"since": since, "until": until, "action": action, "app": app})
    except BadFilter as exc:
        return bad_filter(user, exc, PATH + "/export")
    ledger = service.ledger
    chosen = [r for r in await everything(ledger) if keep(r)]
    await recorded(ledger, actor=user.name, what="export", via="console", keep=keep,
                   format="zip", count=len(chosen))
    sealed = await ledger.checkpoint()
    data = await asyncio.to_thread(evidence_zip, ledger, chosen, through=sealed.seq,
                                   actor=user.name, period=(since, until))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(data, media_type="application/zip", headers={
        **HEADERS, "content-disposition": f'attachment; filename="evidence-{stamp}.zip"'})


def evidence_zip(ledger: Ledger, chosen: list[dict[str, Any]], *, through: int, actor: str,
                 period: tuple[str, str]) -> bytes:
    """The zip's bytes: records, chain through seq `through`, checkpoints, key, report."""
    lines = []
    for line in ledger.store.lines():
        lines.append(line)
        if len(lines) > through:
            break
    size = len(lines)
    shipped = [c for c in ledger.shipped_checkpoints() if int(c.get("size", 0)) <= size]
    pem = ledger.public_pem
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in _chain(lines, shipped):
            archive.writestr(f"{LEDGER_DIR}/{name}", content)
        archive.writestr("records.jsonl", to_jsonl(chosen))
        archive.writestr("records.csv", to_csv(chosen))
        archive.writestr("checkpoints.jsonl",
                         "".join(canonical(c).decode() + "\n" for c in shipped))
        archive.writestr(PUBLIC_KEY, pem)
        context = {"period": period, "actor": actor, "records": chosen, "size": size,
                   "head": json.loads(lines[-1])["hash"] if lines else "",
                   "key_id": key_id(pem), "checkpoints": len(shipped),
                   "generated": datetime.now(UTC).isoformat(timespec="seconds"),
                   "kinds": Counter(r["kind"] for r in chosen),
                   "actions": Counter(str((r.get("body") or {}).get("action"))
                                      for r in chosen if r["kind"] == "decision"),
                   "principles": Counter(p for r in chosen if r["kind"] == "decision"
                                         for p in fired(r.get("body") or {})),
                   "ledger_dir": LEDGER_DIR, "public_key": PUBLIC_KEY}
        archive.writestr("summary.html", environment.get_template("summary.html")
                         .render(user=None, **context))
        archive.writestr("README.txt", environment.get_template("README.txt")
                         .render(**context))
    return buffer.getvalue()


def _chain(lines: list[bytes], shipped: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """The chain's files as the JSONL store lays them out (segments, checkpoint file)."""
    with tempfile.TemporaryDirectory() as folder:
        store = JsonlStore(Path(folder))
        try:
            for start in range(0, len(lines), SEGMENT_RECORDS):
                store.append(_as_sealed(lines[start:start + SEGMENT_RECORDS]))
        finally:
            store.close()
        files = [(path.name, path.read_bytes()) for path in store.segments()]
    files.append((CHECKPOINT_FILE, b"".join(canonical(c) + b"\n" for c in shipped)))
    return files


def _as_sealed(lines: list[bytes]) -> Seal:
    """A Seal handing the store lines that are already sealed (copied, not re-chained)."""
    def seal(next_seq: int, head: str) -> list[dict[str, Any]]:
        return [json.loads(line) | {"line": line} for line in lines]

    return seal
