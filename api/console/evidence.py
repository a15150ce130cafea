"""Evidence export: one zip an examiner can verify offline with `supervisor audit verify`.

The zip holds the records of the period (JSONL exactly as stored, and CSV), the chain
they belong to (`ledger/`, JSONL segments in the embedded store's own layout, from the
first record through a checkpoint signed for this export, with the shipped checkpoint
file), the checkpoints, the public key, a summary report (HTML and PDF: counts by
action, principle and citation, the verify result, how to check it offline) and a README
saying how to verify. The chain is written by `JsonlStore` itself, so it is laid out
exactly as the CLI reads it, and verified there by `verify_ledger` (the examiner's own
read-only path) with the public key shipped, so the summary reports what an examiner
will find. A hash chain can only be verified from its start, so `ledger/` holds the
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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Response

from api.access import ServiceDep
from api.console.render import HEADERS, ConsoleRoute, bad_filter, environment, page
from api.console.report import build
from api.console.report_pdf import render_pdf
from api.console.session import PATH, ReaderDep, WriterDep
from api.records import BadFilter, filter_of, matching, recorded
from supervisor.ledger import CHECKPOINT_FILE, Ledger, verify_ledger
from supervisor.ledger.canonical import canonical
from supervisor.ledger.export import to_csv, to_jsonl
from supervisor.ledger.jsonl import SEGMENT_RECORDS, JsonlStore, Seal
from supervisor.ledger.signing import key_id
from supervisor.settings import Settings

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
        asked = {"since": since, "until": until, "action": action, "app": app}
        keep = filter_of(asked)
    except BadFilter as exc:
        return bad_filter(user, exc, PATH + "/export")
    ledger = service.ledger
    chosen = await matching(ledger, keep)
    await recorded(ledger, actor=user.name, what="export", via="console", keep=keep,
                   format="zip", count=len(chosen))
    sealed = await ledger.checkpoint()
    data = await asyncio.to_thread(evidence_zip, ledger, chosen, through=sealed.seq,
                                   actor=user.name, period=(since, until), filters=asked)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(data, media_type="application/zip", headers={
        **HEADERS, "content-disposition": f'attachment; filename="evidence-{stamp}.zip"'})


def evidence_zip(ledger: Ledger, chosen: list[dict[str, Any]], *, through: int, actor: str,
                 period: tuple[str, str], filters: Mapping[str, str] | None = None) -> bytes:
    """The zip's bytes: records, chain through seq `through`, checkpoints, key, report.

    `filters` are the export form's fields, named in the summary as they were asked.
    """
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
        chain = _chain(lines, shipped, pem)
        for name, content in chain.files:
            archive.writestr(f"{LEDGER_DIR}/{name}", content)
        archive.writestr("records.jsonl", to_jsonl(chosen))
        archive.writestr("records.csv", to_csv(chosen))
        archive.writestr("checkpoints.jsonl",
                         "".join(canonical(c).decode() + "\n" for c in shipped))
        archive.writestr(PUBLIC_KEY, pem)
        head = str(json.loads(lines[-1])["hash"]) if lines else ""
        generated = datetime.now(UTC).isoformat(timespec="seconds")
        context = {"period": period, "actor": actor, "records": chosen, "size": size,
                   "head": head, "key_id": key_id(pem), "checkpoints": len(shipped),
                   "generated": generated,
                   "kinds": Counter(r["kind"] for r in chosen),
                   "ledger_dir": LEDGER_DIR, "public_key": PUBLIC_KEY}
        readme = environment.get_template("README.txt").render(**context)
        report = build(chosen, period=period, filters=filters or {}, verify=chain.verified,
                       generated=generated, actor=actor, chain_size=size, head=head,
                       shipped_checkpoints=len(shipped),
                       public_key=PUBLIC_KEY, ledger_dir=LEDGER_DIR, readme=readme)
        archive.writestr("summary.html", environment.get_template("summary.html")
                         .render(report=report))
        archive.writestr("summary.pdf", render_pdf(report))
        archive.writestr("README.txt", readme)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Chain:
    """The chain's files as shipped, and `VerifyReport.to_dict()` of verifying them."""

    files: list[tuple[str, bytes]]
    verified: dict[str, Any]


def _chain(lines: list[bytes], shipped: list[dict[str, Any]], pem: bytes) -> Chain:
    """The chain's files as the JSONL store lays them out (segments, checkpoint file),
    verified as `supervisor audit verify --public-key` will verify them."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = JsonlStore(root / LEDGER_DIR)
        try:
            for start in range(0, len(lines), SEGMENT_RECORDS):
                store.append(_as_sealed(lines[start:start + SEGMENT_RECORDS]))
        finally:
            store.close()
        files = [(path.name, path.read_bytes()) for path in store.segments()]
        files.append((CHECKPOINT_FILE, b"".join(canonical(c) + b"\n" for c in shipped)))
        (root / LEDGER_DIR / CHECKPOINT_FILE).write_bytes(files[-1][1])
        (root / PUBLIC_KEY).write_bytes(pem)
        # default settings, as on an examiner's machine: the server's own are not theirs
        report, _ = verify_ledger(str(root / LEDGER_DIR), settings=Settings(),
                                  public_key=root / PUBLIC_KEY)
    return Chain(files, report.to_dict())


def _as_sealed(lines: list[bytes]) -> Seal:
    """A Seal handing the store lines that are already sealed (copied, not re-chained)."""
    def seal(next_seq: int, head: str) -> list[dict[str, Any]]:
        return [json.loads(line) | {"line": line} for line in lines]

    return seal
