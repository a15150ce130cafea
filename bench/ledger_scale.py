"""The ledger at scale (issue 20): 1M and 10M-record ledgers on JSONL and PostgreSQL.

Builds a ledger of decision records quickly (sealed in big batches straight into the
store, a signed checkpoint every 1,000 records as the Ledger makes them, reviews closing
most escalations), caches it between runs, then times what the issue's targets name:
first page (unfiltered and filtered by action and a week), one record by id, its
inclusion proof, a checkpoint while another process appends, incremental verify after
10k new records, full verify on every core, append throughput, and the server's memory
with the console open (`supervisor serve` on the ledger vs an empty one, VmRSS).

    .venv/bin/python bench/ledger_scale.py --records 1000000 --store jsonl
    .venv/bin/python bench/ledger_scale.py --records 1000000 --store postgres
    .venv/bin/python bench/ledger_scale.py --records 10000000 --store jsonl --build-only

Built ledgers are kept under --cache (default /tmp/ledger-scale), one folder (and for
PostgreSQL one table) per store and size; measuring appends records to them, so a
second run measures a slightly bigger ledger (the size is in the output).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from supervisor.constitution import load_constitution, shipped
from supervisor.ledger import open_ledger, open_store, verify_ledger
from supervisor.ledger.canonical import canonical, seal_line
from supervisor.ledger.export import Filter
from supervisor.ledger.merkle import Frontier
from supervisor.ledger.quorum import quorums
from supervisor.ledger.signing import Signer, statement
from supervisor.settings import Settings

PG = "postgresql://postgres@127.0.0.1:5432/test"
EVERY = 1000  # a checkpoint after this many records, as `checkpoint_every` defaults
BATCH = 20_000  # records per store append while building
START = datetime(2025, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=6)  # ten decisions a minute: 10M records are about two years
ACTIONS = ["allow"] * 86 + ["revise"] * 8 + ["block"] * 4 + ["escalate"] + ["error"]
PRINCIPLES = ["phi-disclosure", "emergency-referral", "dosage", "diagnosis", "consent"]
ANSWER = ("Between 60 and 100 beats per minute is normal for most adults at rest; see a "
          "doctor if yours is often above or below that range.")
TARGETS = {"page_filtered_p50_ms": 50, "get_ms": 10, "proof_ms": 10, "checkpoint_ms": 50,
           "server_rss_above_empty_mb": 400, "full_verify_records_per_s": 100_000,
           "incremental_verify_s": 1.0, "append_per_s": {"jsonl": 20_000, "postgres": 5_000}}


def body_pool(size: int = 4096, seed: int = 20) -> list[tuple[str, bytes]]:
    """(action, canonical body) of decision records: a pool the builder cycles through,
    so a record costs its seal, not a serialisation of its body."""
    rng = random.Random(seed)
    pool = []
    for _ in range(size):
        action = rng.choice(ACTIONS)
        violated = [rng.choice(PRINCIPLES)] if action in ("block", "escalate", "revise") \
            else []
        pool.append((action, canonical({
            "stage": rng.choice(["input", "output", "output"]), "action": action,
            "released": action in ("allow", "revise"), "reason": f"{action} by policy",
            "violated": violated, "flags": [], "unevaluated": [],
            "provenance": {"constitution": {"id": "healthcare", "version": rng.choice(
                ["2.0.0", "2.1.0", "2.2.0"]), "sha256": "ab" * 32}},
            "context": {"app_id": rng.choice(["clinic", "pharmacy", "triage"]),
                        "user_ref": f"user-{rng.randrange(100_000)}"},
            "text_sha256": {"prompt": "cd" * 32, "original": "ef" * 32, "output": "ef" * 32},
            "texts": {"prompt": "What is a normal heart rate?", "original": ANSWER,
                      "output": ANSWER},
            "verdicts": [{"principle": p, "violated": True, "confidence": 0.9,
                          "rationale": "cited", "evidence": []} for p in violated],
            "revisions": [], "store_text": "redacted"})))
    return pool


def decision() -> dict[str, Any]:
    """A decision body like those the builder writes, for appends through the Ledger."""
    body: dict[str, Any] = json.loads(body_pool(1, seed=len(ACTIONS))[0][1])
    return {**body, "usage": {"calls": 2, "input_tokens": 900, "output_tokens": 60},
            "primary_usage": {"calls": 1, "input_tokens": 400, "output_tokens": 50},
            "timings_ms": {"primary": 800.0, "checks": 40.0}, "input_record": None}


def stamp(seq: int) -> str:
    return (START + STEP * seq).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Builder:
    """Seals generated records onto a store in batches, signing a checkpoint every EVERY
    records over the Merkle frontier it keeps (O(log n) hashes)."""

    def __init__(self, store: Any, signer: Signer, frontier: Frontier, since: int) -> None:
        self.store, self.signer, self.frontier = store, signer, frontier
        self.since = since  # records since the last checkpoint
        self.pool = body_pool()
        self.reviews: list[str] = []  # escalations to review a little later

    def fill(self, records: int, progress: Callable[[int], None] | None = None) -> None:
        left = records

        def seal(next_seq: int, head: str) -> list[dict[str, Any]]:
            nonlocal left
            sealed: list[dict[str, Any]] = []
            seq = next_seq

            def add(record_id: str, kind: str, body: bytes) -> None:
                nonlocal seq, head
                digest, line = seal_line(seq, record_id, stamp(seq), kind, body, head)
                sealed.append({"seq": seq, "id": record_id, "kind": kind, "hash": digest,
                               "line": line})
                self.frontier.append(bytes.fromhex(digest))
                head, seq = digest, seq + 1

            while left > 0 and len(sealed) < BATCH:
                if self.reviews and seq % 7 == 0:
                    decision = self.reviews.pop(0)
                    add(f"rec_v{seq:015d}", "review", canonical({
                        "decision": decision, "decision_hash": "00" * 32,
                        "decision_action": "escalate", "verdict": "agree",
                        "reviewer": "ann", "note": "", "note_sha256": None,
                        "text": None, "text_sha256": None}))
                else:
                    action, body = self.pool[seq % len(self.pool)]
                    record_id = f"rec_d{seq:015d}"
                    add(record_id, "decision", body)
                    if action == "escalate" and seq % 10:  # nine in ten get reviewed
                        self.reviews.append(record_id)
                left -= 1
                self.since += 1
                if self.since >= EVERY:
                    signed = statement(seq, self.frontier.root().hex(), head, stamp(seq))
                    add(f"rec_c{seq:015d}", "checkpoint", canonical(
                        {**signed, "signature": self.signer.sign(signed),
                         "key_id": self.signer.key_id}))
                    self.since = 0
            return sealed

        while left > 0:
            self.store.append(seal)
            if progress is not None:
                progress(records - left)


class Cached:
    """A built ledger kept between runs: its target, key folder and what was built."""

    def __init__(self, store: str, records: int, cache: Path) -> None:
        self.kind, self.records = store, records
        self.folder = cache / f"{store}-{records}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.target = str(self.folder / "ledger") if store == "jsonl" \
            else f"{PG}?table=scale_{records}"
        self.keys = self.folder / "keys"
        self.marker = self.folder / "built.json"
        self.settings = Settings(ledger=self.target, key_dir=str(self.keys),
                                 checkpoint_every=EVERY, checkpoint_seconds=3600)

    def built(self) -> bool:
        return self.marker.is_file()

    def env(self) -> dict[str, str]:
        return {"SUPERVISOR_LEDGER": self.target, "SUPERVISOR_KEY_DIR": str(self.keys)}


def build(cached: Cached) -> dict[str, Any]:
    """Write the ledger (or finish a build that was cut off), then mark it built."""
    if cached.kind == "postgres":  # a build cut off leaves rows: start the table afresh
        import psycopg

        with psycopg.connect(PG, autocommit=True) as conn:
            for suffix in ("", "_index", "_fired", "_labels", "_nodes", "_counts",
                           "_escalations", "_backings"):
                conn.execute(f"DROP TABLE IF EXISTS scale_{cached.records}{suffix}")
    store = open_store(cached.target, cached.settings)
    # next_seq is the JSONL store's; the kind is checked first
    if cached.kind == "jsonl" and store.next_seq:  # type: ignore[attr-defined]
        raise SystemExit(f"{cached.folder} holds a half-built ledger; remove it and run again")
    signer = Signer(cached.keys)
    builder = Builder(store, signer, Frontier(), 0)
    started = time.perf_counter()
    last = [started]

    def progress(done: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 30:
            last[0] = now
            print(f"  built {done:,} of {cached.records:,} ({done / (now - started):,.0f}/s)",
                  flush=True)

    builder.fill(cached.records, progress)
    seconds = time.perf_counter() - started
    store.close()
    if cached.kind == "postgres":  # statistics and visibility, as autovacuum would make
        import psycopg

        with psycopg.connect(PG, autocommit=True) as conn:
            for suffix in ("", "_index", "_fired", "_nodes", "_counts", "_escalations",
                           "_backings"):
                conn.execute(f"VACUUM ANALYZE scale_{cached.records}{suffix}")
    info = {"records": cached.records, "build_s": round(seconds, 1),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds")}
    cached.marker.write_text(json.dumps(info))
    print(f"built {cached.records:,} records in {seconds:.0f} s", flush=True)
    return info


def timed(work: Callable[[], Any], runs: int) -> dict[str, float]:
    """Median and worst of `runs` calls, in ms."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 3), "max_ms": round(max(times), 3)}


def each(work: Callable[[Any], Any], items: list[Any]) -> dict[str, float]:
    """Median and worst of one call per item (different records: no cache helps)."""
    times = []
    for item in items:
        started = time.perf_counter()
        work(item)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 3), "max_ms": round(max(times), 3)}


WRITER = """
import asyncio, json, os, sys
from supervisor.ledger import open_ledger
from supervisor.settings import Settings
async def main():
    settings = Settings(ledger=sys.argv[1], key_dir=sys.argv[2], checkpoint_every=10**9,
                        checkpoint_seconds=3600)
    ledger = await open_ledger(settings=settings)
    body = json.loads(sys.argv[4])
    print("ready", flush=True)
    while not os.path.exists(sys.argv[3]):
        await asyncio.gather(*(ledger.append("decision", body) for _ in range(64)))
    ledger.store.close()
asyncio.run(main())
"""


async def append_many(ledger: Any, count: int, workers: int = 64) -> float:
    """Durable appends/s with `workers` concurrent appenders."""
    body = decision()
    per = count // workers

    async def worker() -> None:
        for _ in range(per):
            await ledger.append("decision", body)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return per * workers / (time.perf_counter() - started)


async def ledger_ops(cached: Cached, ids: list[str], runs: int) -> dict[str, Any]:
    """Proofs, checkpoints while another process appends, append throughput."""
    found: dict[str, Any] = {}
    ledger = await open_ledger(cached.target, settings=cached.settings)
    started = time.perf_counter()
    ledger.prove(ids[0])
    found["first_proof_ms"] = round((time.perf_counter() - started) * 1000, 3)
    found["proof"] = each(ledger.prove, ids)
    started = time.perf_counter()
    await ledger.checkpoint()  # the first one takes the frontier from the index
    found["first_checkpoint_ms"] = round((time.perf_counter() - started) * 1000, 3)
    stop = cached.folder / "writer.stop"
    stop.unlink(missing_ok=True)
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, cached.target, str(cached.keys), str(stop),
        json.dumps(decision()),
        stdout=asyncio.subprocess.PIPE)
    try:
        assert writer.stdout is not None and (await writer.stdout.readline()).strip() == b"ready"
        await asyncio.sleep(1.0)  # let its appends get going
        times = []
        for _ in range(runs):
            await ledger.append("decision", decision())
            started = time.perf_counter()
            await ledger.checkpoint()
            times.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.05)
        found["checkpoint_while_appending"] = {
            "p50_ms": round(statistics.median(times), 3), "max_ms": round(max(times), 3)}
    finally:
        stop.touch()
        await asyncio.wait_for(writer.wait(), 120)
        stop.unlink(missing_ok=True)
    found["append_per_s"] = round(await append_many(ledger, 20_000))
    found["served_id"] = (await ledger.append("decision", decision())).id
    await ledger.close()
    return found


def verifies(cached: Cached) -> dict[str, Any]:
    """Full verify on every core (saving the verify state), then incremental after 10k."""
    state = cached.folder / "verify-state.json"
    state.unlink(missing_ok=True)
    jobs = os.cpu_count() or 1
    cpu = cpu_seconds()
    started = time.perf_counter()
    report, _ = verify_ledger(cached.target, settings=cached.settings, full=True, jobs=jobs,
                              state=state)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    assert report.ok, report.problem
    full = {"jobs": jobs, "records": report.records, "seconds": round(seconds, 2),
            "records_per_s": round(report.records / seconds), "cpu_s": round(cpu, 1)}

    async def more() -> None:
        ledger = await open_ledger(cached.target, settings=cached.settings)
        await append_many(ledger, 10_000)
        await ledger.close()

    asyncio.run(more())
    started = time.perf_counter()
    report, _ = verify_ledger(cached.target, settings=cached.settings, state=state)
    seconds = time.perf_counter() - started
    assert report.ok, report.problem
    return {"full": full, "incremental": {"seconds": round(seconds, 3),
                                          "from_seq": report.start, "records": report.records}}


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (verify's workers; a store's
    server, PostgreSQL, is not counted)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vm(pid: int, field: str) -> float:
    """A /proc/PID/status field (VmRSS, VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} for {pid}")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if found is None:
        raise SystemExit("no csrf field in the console's page")
    return found.group(1)


def settle(server: subprocess.Popen[bytes], ready: Callable[[], Any]) -> None:
    """Wait until the server is ready (/readyz 200) and its memory has settled (models
    warmed, start-up reads done): RSS still within 2 MB after 10 s."""
    deadline = time.monotonic() + 900
    while True:
        try:
            ready()
            break
        except OSError:  # refused, or 503 until ready
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("supervisor serve did not get ready") from None
            time.sleep(0.5)
    settled = vm(server.pid, "VmRSS")
    while time.monotonic() < deadline:
        time.sleep(10)
        now = vm(server.pid, "VmRSS")
        if abs(now - settled) < 2:
            return
        settled = now


def served_rss(env: dict[str, str], record_id: str, week: Filter) -> dict[str, Any]:
    """Start `supervisor serve` on a ledger, log in to the console, open the records page,
    a filtered page, a record and its proof, the queue and an API page; VmRSS after."""
    port, key = free_port(), "bench-auditor-key-" + os.urandom(8).hex()
    full_env = {**os.environ, **env, "SUPERVISOR_API_KEYS": f"admin:bench:{key}",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    log = (Path(env["SUPERVISOR_KEY_DIR"]).parent / "serve.log").open("ab")
    server = subprocess.Popen([sys.executable, "-m", "supervisor.cli", "serve", "--port",
                               str(port), "--log-level", "warning"], env=full_env,
                              stdout=subprocess.DEVNULL, stderr=log,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    timings: dict[str, float] = {}
    after: dict[str, float] = {}  # the server's RSS after each request, MB

    def get(path: str, name: str, data: bytes | None = None,
            headers: dict[str, str] | None = None) -> bytes:
        started = time.perf_counter()
        request = urllib.request.Request(base + path, data=data, headers=headers or {})
        with opener.open(request, timeout=600) as answer:
            body: bytes = answer.read()
        timings[name] = round((time.perf_counter() - started) * 1000, 1)
        after[name] = round(vm(server.pid, "VmRSS"), 1)
        return body

    try:
        settle(server, lambda: get("/readyz", "readyz"))
        started_mb = vm(server.pid, "VmRSS")
        form = get("/console/login", "login_form").decode()
        get("/console/login", "login", urllib.parse.urlencode(
            {"key": key, "csrf": csrf_of(form)}).encode())
        listed = get("/console/decisions", "console_records").decode()
        query = urllib.parse.urlencode({"action": week.action, "since": week.since,
                                        "until": week.until})
        get(f"/console/decisions?{query}", "console_filtered")
        get(f"/console/records/{record_id}", "console_record")
        get(f"/console/records/{record_id}/proof", "console_proof",
            data=urllib.parse.urlencode({"csrf": csrf_of(listed)}).encode())
        get("/v1/audit/records?limit=50", "api_page",
            headers={"authorization": f"Bearer {key}"})
        open_mb = vm(server.pid, "VmRSS")
        get("/console/queue", "console_queue")  # the open escalations only
        return {"rss_started_mb": round(started_mb, 1), "rss_mb": round(open_mb, 1),
                "rss_after_queue_mb": round(vm(server.pid, "VmRSS"), 1),
                "hwm_mb": round(vm(server.pid, "VmHWM"), 1), "requests_ms": timings,
                "rss_after_mb": after}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


async def one_decision(env: dict[str, str]) -> str:
    """A ledger of one decision (the empty baseline shows the same pages as the big one)."""
    settings = Settings(ledger=env["SUPERVISOR_LEDGER"], key_dir=env["SUPERVISOR_KEY_DIR"])
    ledger = await open_ledger(settings=settings)
    receipt = await ledger.append("decision", decision())
    await ledger.close()
    return receipt.id


async def start_fold(cached: Cached, *, before: bool = True) -> dict[str, Any]:
    """A server's start on the ledger (`Activation.start`: the constitution records read
    through the index), and (`before`) the fold a start made before (every line from seq
    0, the constitution records picked out), timed in one run for the ratio."""
    from api import Service
    from api.keys import Keys
    from supervisor.proposals import Book, relevant

    ledger = await open_ledger(cached.target, settings=cached.settings)
    try:
        ledger.query.size()  # the index caught up, as a server's first read would
        service = Service(cached.settings, keys=Keys(), ledger=ledger, warm_primary=False)
        started = time.perf_counter()
        await service.activation.start()
        start_s = time.perf_counter() - started
        if not before:
            return {"start_s": round(start_s, 3)}
        started = time.perf_counter()
        book = Book()
        for line in ledger.store.lines():
            if relevant(line):
                book.observe(json.loads(line))
        every_s = time.perf_counter() - started
    finally:
        await ledger.close()
    return {"start_s": round(start_s, 3), "every_line_fold_s": round(every_s, 3),
            "same_activations": book.active == service.activation.book.active}


def measure(cached: Cached, info: dict[str, Any], args: argparse.Namespace) -> None:
    from supervisor.ledger.index import open_query

    rng = random.Random(7)
    result: dict[str, Any] = {"store": cached.kind, "built": info, "runs": args.runs,
                              "cores": os.cpu_count(), "python": platform.python_version()}
    store = open_store(cached.target, cached.settings)
    started = time.perf_counter()
    query = open_query(store)
    size = query.size()
    result["index_catch_up_s"] = round(time.perf_counter() - started, 2)
    result["records"] = size
    if cached.kind == "jsonl":
        folder = Path(cached.target)
        result["ledger_mb"] = round(sum(p.stat().st_size for p in folder.glob("*.jsonl")) / 1e6)
        result["index_mb"] = round(sum(p.stat().st_size for p in folder.glob("index.sqlite*"))
                                   / 1e6)
    middle = stamp(cached.records // 2)[:10]
    until = (datetime.fromisoformat(middle) + timedelta(days=6)).date().isoformat()
    week = Filter(action="block", since=middle, until=until)
    seqs = [rng.randrange(int(size * 0.98)) for _ in range(args.runs)]
    ids = [query.page(Filter(kind="decision"), limit=1, before=s + 1).records[0]["id"]
           for s in seqs]
    result["page"] = timed(lambda: query.page(Filter(), limit=50), args.runs)
    result["page_decisions"] = timed(lambda: query.page(Filter(kind="decision"), limit=50),
                                     args.runs)
    result["page_filtered"] = timed(lambda: query.page(week, limit=50), args.runs)
    result["page_filtered_total"] = query.page(week, limit=50).total
    result["get"] = each(query.get, ids)
    # the queue as the server reads it (closed escalations left out by SQL), and every
    # escalation with its reviews (the read before), for the ratio in one run
    reviewers = quorums({c.id: c for c in map(load_constitution, shipped())})
    result["queue"] = timed(lambda: query.escalations(reviewers=reviewers),
                            max(1, args.runs // 4))
    result["queue_open"] = len(query.escalations(reviewers=reviewers))
    if not args.no_before:
        result["queue_every_escalation"] = timed(query.escalations, max(1, args.runs // 4))
    result["queue_escalations"] = len(query.escalations())
    query.close()
    store.close()
    print(f"reads done: page {result['page']['p50_ms']} ms, filtered "
          f"{result['page_filtered']['p50_ms']} ms, get {result['get']['p50_ms']} ms",
          flush=True)
    result["start"] = asyncio.run(start_fold(cached, before=not args.no_before))
    print(f"start: {result['start']['start_s']} s (every line: "
          f"{result['start'].get('every_line_fold_s', 'not timed')} s)", flush=True)
    result.update(asyncio.run(ledger_ops(cached, ids, args.runs)))
    print("proofs, checkpoints and appends done", flush=True)
    if not args.no_verify:
        result["verify"] = verifies(cached)
        print("verify done", flush=True)
    if not args.no_serve:
        result["server"] = server_memory(cached, result["served_id"], week)
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    report(result)


def serve_only(cached: Cached) -> None:
    """Measure the server's memory alone and put it into the saved result for this ledger
    (a run before this one made the rest)."""
    out = Path(__file__).parent / "results" / f"ledger_scale_{cached.kind}_{cached.records}.json"
    result = json.loads(out.read_text())
    middle = stamp(cached.records // 2)[:10]
    until = (datetime.fromisoformat(middle) + timedelta(days=6)).date().isoformat()
    week = Filter(action="block", since=middle, until=until)
    result["server"] = server_memory(cached, result["served_id"], week)
    result["server_load_average_1m"] = round(os.getloadavg()[0], 2)
    report(result)


def server_memory(cached: Cached, record_id: str, week: Filter) -> dict[str, Any]:
    """VmRSS of `supervisor serve` with the console open on this ledger and on an empty one."""
    with tempfile.TemporaryDirectory(prefix="scale-empty-") as empty:
        env = {"SUPERVISOR_LEDGER": str(Path(empty) / "ledger"),
               "SUPERVISOR_KEY_DIR": str(Path(empty) / "keys")}
        baseline = served_rss(env, asyncio.run(one_decision(env)), week)
    big = served_rss(cached.env(), record_id, week)
    return {"empty": baseline, "ledger": big,
            "rss_above_empty_mb": round(big["rss_mb"] - baseline["rss_mb"], 1),
            "rss_after_queue_above_empty_mb": round(
                big["rss_after_queue_mb"] - baseline["rss_after_queue_mb"], 1)}


def report(result: dict[str, Any]) -> None:
    kind = result["store"]
    rows = [
        ("first page, unfiltered (p50)", f"{result['page']['p50_ms']:.1f} ms", "", None),
        ("first page, action + week (p50)", f"{result['page_filtered']['p50_ms']:.1f} ms",
         "<= 50 ms", result["page_filtered"]["p50_ms"] <= TARGETS["page_filtered_p50_ms"]),
        ("one record by id (p50)", f"{result['get']['p50_ms']:.2f} ms", "<= 10 ms",
         result["get"]["p50_ms"] <= TARGETS["get_ms"]),
        ("inclusion proof (p50)", f"{result['proof']['p50_ms']:.2f} ms", "<= 10 ms",
         result["proof"]["p50_ms"] <= TARGETS["proof_ms"]),
        ("checkpoint while another appends (p50)",
         f"{result['checkpoint_while_appending']['p50_ms']:.1f} ms", "<= 50 ms",
         result["checkpoint_while_appending"]["p50_ms"] <= TARGETS["checkpoint_ms"]),
        ("append throughput", f"{result['append_per_s']:,}/s",
         # TARGETS mixes numbers and per-store tables
         f">= {TARGETS['append_per_s'][kind]:,}/s",  # type: ignore[index]
         # TARGETS mixes numbers and per-store tables
         result["append_per_s"] >= TARGETS["append_per_s"][kind]),  # type: ignore[index]
        (f"review queue ({result['queue_open']:,} open of "
         f"{result['queue_escalations']:,} escalations)",
         f"{result['queue']['p50_ms']:.1f} ms", "", None),
        ("server start (constitution records)", f"{result['start']['start_s']:.2f} s", "",
         None),
    ]
    if "queue_every_escalation" in result:
        rows.append(("every escalation with its reviews",
                     f"{result['queue_every_escalation']['p50_ms']:.1f} ms", "", None))
    if "every_line_fold_s" in result["start"]:
        rows.append(("... folding every line instead",
                     f"{result['start']['every_line_fold_s']:.2f} s", "", None))
    if "verify" in result:
        verify = result["verify"]
        rows += [("full verify, all cores", f"{verify['full']['records_per_s']:,}/s",
                  ">= 100,000/s", verify["full"]["records_per_s"]
                  >= TARGETS["full_verify_records_per_s"]),
                 ("incremental verify after 10k", f"{verify['incremental']['seconds']:.2f} s",
                  "<= 1 s", verify["incremental"]["seconds"] <= TARGETS["incremental_verify_s"])]
    if "server" in result:
        rows.append(("server RSS above an empty ledger's",
                     f"{result['server']['rss_above_empty_mb']:.0f} MB", "<= 400 MB",
                     result["server"]["rss_above_empty_mb"]
                     <= TARGETS["server_rss_above_empty_mb"]))
        rows.append(("... after also opening the queue",
                     f"{result['server']['rss_after_queue_above_empty_mb']:.0f} MB", "", None))
    print(f"\n{kind}, {result['records']:,} records (built in {result['built']['build_s']} s; "
          f"index caught up in {result['index_catch_up_s']} s)")
    print(f"{'operation':<42}{'measured':>14}  {'target':<14}")
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("ok" if ok else "MISSED")
        print(f"{name:<42}{value:>14}  {target:<14}{mark}")
    name = f"ledger_scale_{kind}_{result['built']['records']}.json"
    out = Path(__file__).parent / "results" / name
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--store", choices=["jsonl", "postgres"], default="jsonl")
    parser.add_argument("--cache", default="/tmp/ledger-scale", help="where built ledgers are kept")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--no-serve", action="store_true", help="skip the server's memory")
    parser.add_argument("--serve-only", action="store_true",
                        help="only the server's memory, added to the saved result")
    parser.add_argument("--no-before", action="store_true",
                        help="skip the reads as made before (every escalation, every line "
                             "folded at a start), kept for ratios; minutes at 10M")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip full and incremental verify (bench/verify.py times them)")
    args = parser.parse_args()
    cached = Cached(args.store, args.records, Path(args.cache))
    info = json.loads(cached.marker.read_text()) if cached.built() else build(cached)
    if args.build_only:
        return
    if args.serve_only:
        serve_only(cached)
        return
    measure(cached, info, args)


if __name__ == "__main__":
    main()
