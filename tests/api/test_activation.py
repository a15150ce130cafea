"""A service's start folds the constitution records through the ledger's index: it
reads the activation and proposal records, not every record, and ends in the state a
fold over every record gives."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from api import Service
from api.keys import Keys
from supervisor.ledger import Ledger, open_ledger
from supervisor.ledger.jsonl import JsonlStore
from supervisor.ledger.signing import Signer
from supervisor.proposals import Book
from supervisor.settings import Settings
from tests.api.conftest import KEYS

DECISIONS = 1500


class CountingStore(JsonlStore):
    """A JSONL store that counts the lines read through `lines`, the store's read seam."""

    lines_read = 0

    def lines(self, start: int = 0) -> Iterator[bytes]:
        for line in super().lines(start):
            self.lines_read += 1
            yield line


def settings_of(folder: Path) -> Settings:
    return Settings(ledger=str(folder), checkpoint_seconds=3600, checkpoint_every=10**9)


async def decisions(ledger: Ledger, count: int) -> None:
    await asyncio.gather(*(ledger.append("decision", {"action": "allow", "i": i})
                           for i in range(count)))


async def started(ledger: Ledger, folder: Path) -> Service:
    service = Service(settings_of(folder), keys=Keys(KEYS), ledger=ledger,
                      warm_primary=False)
    await service.activation.start()
    return service


async def test_start_reads_only_the_records_the_fold_needs(tmp_path: Path) -> None:
    """Between thousands of decisions, a proposal, its rejection and the activations of
    an earlier start: a new start reads a handful of lines through the store (the
    records appended since the index was read), and its fold equals the full one."""
    folder = tmp_path / "ledger"
    first = await open_ledger(str(folder), settings=settings_of(folder))
    await decisions(first, DECISIONS)
    proposal = await first.append("proposal", {
        "constitution": "finance", "proposer": "ops", "source": "text",
        "base": {"version": "1.0.0", "sha256": "aa"},
        "new": {"version": "1.1.0", "sha256": "bb"}})
    await first.append("rejection", {"proposal": proposal.id, "rejected_by": "ann",
                                     "reason": "not yet"})
    await started(first, folder)  # appends the activations
    await decisions(first, DECISIONS)
    await first.close()

    store = CountingStore(folder)
    second = Ledger(store, Signer(folder / "keys"), checkpoint_every=10**9,
                    checkpoint_seconds=3600)
    service = await started(second, folder)
    read_at_start = store.lines_read
    reference = Book()
    every: list[dict[str, Any]] = list(second.records_in_order())
    reference.observe_all(every)
    book = service.activation.book
    assert read_at_start < 20 < 2 * DECISIONS  # not a scan of the ledger
    assert (book.active, book.proposals, book.contents.keys(), book.next_seq) == \
        (reference.active, reference.proposals, reference.contents.keys(),
         reference.next_seq)
    assert book.proposals[proposal.id].state == "rejected"
    assert set(service.constitutions) == {"base", "finance", "healthcare"}
    await second.close()


async def test_a_record_the_fold_cannot_read_does_not_stop_the_start(tmp_path: Path) -> None:
    """A `constitution` record a script appended without the fields the fold reads is
    skipped with a warning; the service starts and serves its constitutions."""
    folder = tmp_path / "ledger"
    ledger = await open_ledger(str(folder), settings=settings_of(folder))
    sparse = await ledger.append("constitution", {"note": "added by a script"})
    with capture_logs() as logs:
        service = await started(ledger, folder)
    assert set(service.constitutions) == {"base", "finance", "healthcare"}
    assert [e["record"] for e in logs if e["event"] == "constitution_record_unreadable"] \
        == [sparse.id]
    await ledger.close()
