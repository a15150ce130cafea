"""store_text: encrypted: sealed texts, opened with the master key, erased by destroying keys."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from supervisor.decision import Action, Decision, Provenance, Revision, Verdict
from supervisor.errors import ConfigError
from supervisor.ledger import Ledger, open_ledger, verify_proof
from supervisor.ledger.keystore import STORE_NAME, KeyStore, load_master_key
from supervisor.ledger.records import decision_body
from supervisor.ledger.sealed import TextKeys, erase, mac_of, retain
from supervisor.settings import Settings

SSN = "536-22-8193"
EMAIL = "jane.doe@example.org"
ANSWER = f"Patient John Whitaker, SSN {SSN}, was treated for pneumonia."
REVISED = "The patient was treated for pneumonia."
RATIONALE = f"The answer names {SSN}."


def decision(user_ref: str | None = EMAIL) -> Decision:
    context = (("app_id", "clinic-bot"), ("patient", SSN))
    return Decision(
        action=Action.REVISE, stage="output", prompt="Who was treated?", original=ANSWER,
        output=REVISED,
        verdicts=(Verdict("phi-disclosure", True, 0.9, RATIONALE, "judge:fake"),),
        provenance=Provenance("healthcare", "2.1.0", "0" * 64),
        revisions=(Revision(1, ("phi-disclosure",), "local", REVISED),),
        context=context + ((("user_ref", user_ref),) if user_ref else ()))


class Clock:
    """A clock tests set by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def text_keys(folder: Path, clock: Clock | None = None) -> TextKeys:
    master = load_master_key(folder / "master.key", configured=False)
    return TextKeys(KeyStore(folder / STORE_NAME, master,
                             clock=clock or Clock(datetime.now(UTC))))


async def sealed(ledger: Ledger, keys: TextKeys, user_ref: str | None = EMAIL
                 ) -> dict[str, Any]:
    body = decision_body(decision(user_ref), store_text="encrypted", keys=keys)
    receipt = await ledger.append("decision", body)
    record = ledger.get(receipt.id)
    assert record is not None
    return record


def stored_bytes(ledger_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(ledger_dir.glob("*.jsonl")))


async def test_an_encrypted_record_holds_no_plaintext_and_verifies(
        ledger: Ledger, tmp_path: Path) -> None:
    """The JSONL bytes hold neither the SSN, the answer, the user_ref, nor a bare sha256
    of any of them; the chain over the ciphertext verifies."""
    record = await sealed(ledger, text_keys(tmp_path / "keys"))
    await ledger.checkpoint()
    raw = stored_bytes(tmp_path / "ledger")
    assert b'"kind":"decision"' in raw
    for secret in (SSN, ANSWER, REVISED, EMAIL, RATIONALE):
        assert secret.encode() not in raw
        assert hashlib.sha256(secret.encode()).hexdigest().encode() not in raw
    body = record["body"]
    assert body["texts"] is None and "text_sha256" not in body
    assert set(body["sealed"]) == {"alg", "subject", "key_id", "nonce", "ciphertext"}
    assert ledger.verify().ok


async def test_the_master_key_opens_the_texts(ledger: Ledger, tmp_path: Path) -> None:
    """With the key store and master key, texts, context, rationale and revision text
    come back as they were, and the HMACs match the texts."""
    keys = text_keys(tmp_path / "keys")
    record = await sealed(ledger, keys)
    opened = keys.open(record["body"])
    assert opened.opened
    assert opened.body["texts"] == {"prompt": "Who was treated?", "original": ANSWER,
                                    "output": REVISED}
    assert opened.body["context"]["user_ref"] == EMAIL
    assert opened.body["context"]["patient"] == SSN
    assert opened.body["verdicts"][0]["rationale"] == RATIONALE
    assert opened.body["revisions"][0]["text"] == REVISED
    key = keys.store.key_for(EMAIL)
    assert record["body"]["text_hmac"]["original"] == mac_of(key, ANSWER)


async def test_erasure_leaves_chain_and_proofs_and_texts_unreadable(
        ledger: Ledger, tmp_path: Path) -> None:
    """Erasing a user: its texts say "erased on DATE", another user's still open, verify
    passes, and a proof made before the erasure still verifies."""
    keys = text_keys(tmp_path / "keys")
    mine = await sealed(ledger, keys)
    other = await sealed(ledger, keys, user_ref="someone-else")
    await ledger.checkpoint()
    before = ledger.prove(mine["id"]).to_dict()
    done = await erase(ledger, keys, EMAIL, reason="GDPR Art. 17 request", by="dpo")
    opened = keys.open(mine["body"])
    assert not opened.opened and opened.body["texts"] is None
    assert opened.note.startswith(f"erased on {done.erased_at[:10]}")
    assert keys.open(other["body"]).opened
    await ledger.checkpoint()
    assert ledger.verify().ok
    assert verify_proof(before, ledger.public_pem)
    assert verify_proof(ledger.prove(mine["id"]).to_dict(), ledger.public_pem)
    record = ledger.get(done.records[0])
    assert record is not None and record["kind"] == "erasure"
    assert record["body"]["subjects"] == [mine["body"]["sealed"]["subject"]]
    assert record["body"]["reason"] == "GDPR Art. 17 request"
    assert EMAIL.encode() not in stored_bytes(tmp_path / "ledger")


async def test_an_erased_key_leaves_no_bytes_in_the_key_store(
        ledger: Ledger, tmp_path: Path) -> None:
    """After an erasure the wrapped key's bytes are nowhere in the key store's files (the
    database, its write-ahead log), so no undelete brings the texts back."""
    keys = text_keys(tmp_path / "keys")
    record = await sealed(ledger, keys)
    key_id = record["body"]["sealed"]["key_id"]
    with sqlite3.connect(tmp_path / "keys" / STORE_NAME) as db:
        (wrapped,) = db.execute("SELECT wrapped FROM data_keys WHERE key_id = ?",
                                (key_id,)).fetchone()
    files = list((tmp_path / "keys").glob(STORE_NAME + "*"))
    assert any(wrapped in f.read_bytes() for f in files)
    await erase(ledger, keys, EMAIL, reason="request", by="dpo")
    files = list((tmp_path / "keys").glob(STORE_NAME + "*"))
    assert not any(wrapped in f.read_bytes() for f in files)


async def test_a_record_without_user_ref_is_its_own_subject(
        ledger: Ledger, tmp_path: Path) -> None:
    """Without a user_ref each record gets a fresh subject; erasing by record id erases
    that record's texts only."""
    keys = text_keys(tmp_path / "keys")
    first, second = await sealed(ledger, keys, None), await sealed(ledger, keys, None)
    assert first["body"]["sealed"]["subject"] != second["body"]["sealed"]["subject"]
    await erase(ledger, keys, first["id"], reason="patient request", by="dpo")
    assert keys.open(first["body"]).erased_on
    assert keys.open(second["body"]).opened


async def test_erasing_an_unknown_or_erased_subject_is_a_clear_error(
        ledger: Ledger, tmp_path: Path) -> None:
    """An unknown subject names what to give; a second erasure says when the first was."""
    keys = text_keys(tmp_path / "keys")
    with pytest.raises(ConfigError, match="no live data key for subject 'nobody'"):
        await erase(ledger, keys, "nobody", reason="request", by="dpo")
    record = await sealed(ledger, keys)
    subject = record["body"]["sealed"]["subject"]
    await erase(ledger, keys, subject, reason="request", by="dpo")
    with pytest.raises(ConfigError, match=f"subject {subject} was erased on"):
        await erase(ledger, keys, subject, reason="request", by="dpo")
    with pytest.raises(ConfigError, match="needs its reason"):
        await erase(ledger, keys, "nobody", reason=" ", by="dpo")


async def test_retain_erases_only_subjects_whose_texts_are_all_old(
        ledger: Ledger, tmp_path: Path) -> None:
    """Texts sealed eight years ago are erased with reason "retention"; a user who also
    has a recent text, and a recent record, stay readable; a record sealed afterwards
    never gets a key retention erased."""
    clock = Clock(datetime(2018, 1, 2, tzinfo=UTC))
    keys = text_keys(tmp_path / "keys", clock)
    old_user = await sealed(ledger, keys, user_ref="old-patient")
    old_record = await sealed(ledger, keys, user_ref=None)
    returning = await sealed(ledger, keys, user_ref=EMAIL)
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    await sealed(ledger, keys, user_ref=EMAIL)
    recent = await sealed(ledger, keys, user_ref=None)
    done = await retain(ledger, keys, days=2555, by="scheduler")
    assert done is not None and done.reason == "retention"
    erased = set(done.subjects)  # with the record subjects made in 2018 and never used
    assert {old_user["body"]["sealed"]["subject"],
            old_record["body"]["sealed"]["subject"]} <= erased
    for kept in (returning, recent):
        assert kept["body"]["sealed"]["subject"] not in erased
    assert keys.open(old_user["body"]).note.startswith("erased on 2026-03-01 (retention")
    assert keys.open(returning["body"]).opened and keys.open(recent["body"]).opened
    assert await retain(ledger, keys, days=2555, by="scheduler") is None
    after = await sealed(ledger, keys, user_ref=None)  # not under a key retain erased
    assert keys.open(after["body"]).opened
    assert ledger.verify(allow_unsigned_tail=10).ok


SEAL_ELSEWHERE = """
import json, sys
from pathlib import Path
from supervisor.ledger.keystore import KeyStore, load_master_key
from supervisor.ledger.sealed import TextKeys
from supervisor.ledger.records import decision_body
from tests.ledger.test_sealed import decision
folder = Path(sys.argv[1])
keys = TextKeys(KeyStore(folder / "text_keys.sqlite3",
                         load_master_key(folder / "master.key", configured=False)))
bodies = [decision_body(decision(f"user-{i % 5}"), store_text="encrypted", keys=keys)
          for i in range(int(sys.argv[2]))]
print(json.dumps(bodies))
"""


def test_the_key_store_is_shared_by_two_processes(tmp_path: Path) -> None:
    """Two processes sealing for the same five users at once agree on one subject and
    key per user, and their records open here."""
    keys = text_keys(tmp_path / "keys")
    here = decision_body(decision("user-0"), store_text="encrypted", keys=keys)
    workers = [subprocess.Popen([sys.executable, "-c", SEAL_ELSEWHERE, str(tmp_path / "keys"),
                                 "100"], stdout=subprocess.PIPE, text=True,
                                cwd=Path(__file__).parents[2]) for _ in range(2)]
    bodies = [b for w in workers for b in json.loads(w.communicate(timeout=120)[0])]
    assert all(w.returncode == 0 for w in workers)
    subjects: dict[str, set[str]] = {}
    for body in bodies:
        opened = keys.open(body)
        assert opened.body["texts"]["original"] == ANSWER
        subjects.setdefault(opened.body["context"]["user_ref"], set()).add(
            body["sealed"]["subject"])
    assert len(subjects) == 5 and all(len(s) == 1 for s in subjects.values())
    assert subjects["user-0"] == {here["sealed"]["subject"]}


def test_a_missing_or_wrong_master_key_names_the_setting(tmp_path: Path) -> None:
    """A configured master key that is not there, holds junk, or is not the key the
    texts were sealed with: each error names SUPERVISOR_MASTER_KEY."""
    with pytest.raises(ConfigError,
                       match=r"master key .* \(SUPERVISOR_MASTER_KEY\) does not exist"):
        load_master_key(tmp_path / "absent.key", configured=True)
    (tmp_path / "junk.key").write_text("not base64!")
    with pytest.raises(ConfigError, match=r"SUPERVISOR_MASTER_KEY: .* base64"):
        load_master_key(tmp_path / "junk.key", configured=True)
    body = decision_body(decision(), store_text="encrypted",
                         keys=text_keys(tmp_path / "keys"))
    wrong = TextKeys(KeyStore(tmp_path / "keys" / STORE_NAME,
                              load_master_key(tmp_path / "other.key", configured=False)))
    with pytest.raises(ConfigError, match="SUPERVISOR_MASTER_KEY"):
        wrong.open(body)


async def test_a_ledger_without_its_master_key_stores_no_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ledger.record under encrypted with a configured master key missing fails closed:
    the record keeps no text and says why, naming the setting."""
    target = tmp_path / "ledger"
    monkeypatch.setenv("SUPERVISOR_LEDGER", str(target))
    monkeypatch.setenv("SUPERVISOR_MASTER_KEY", str(tmp_path / "gone.key"))
    ledger = await open_ledger(str(target), settings=Settings(ledger=str(target)))
    try:
        record = ledger.get(await ledger.record(decision(), store_text="encrypted"))
        assert record is not None
        assert "SUPERVISOR_MASTER_KEY" in record["body"]["redaction_error"]
        assert record["body"]["texts"] is None
        assert SSN.encode() not in stored_bytes(target)
    finally:
        await ledger.close()


CONSTITUTION = """
id: sealed-clinic
version: 1.0.0
defaults:
  store_text: encrypted
principles:
  - id: no-ssn
    statement: The answer reveals no social security number.
    applies_to: output
    severity: high
    action: block
    citations: ["internal policy P-1"]
    checks:
      - pattern: {regex: ['\\b\\d{3}-\\d{2}-\\d{4}\\b']}
"""


async def test_a_constitution_with_store_text_encrypted_seals_through_the_pipeline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A supervisor whose constitution says `store_text: encrypted` records the decision
    sealed under the user's key, beside the ledger the settings name."""
    from supervisor.constitution import load_constitution
    from supervisor.ledger.sealed import keys_for
    from supervisor.pipeline import Supervisor

    target = tmp_path / "ledger"
    monkeypatch.setenv("SUPERVISOR_LEDGER", str(target))
    path = tmp_path / "sealed-clinic.yaml"
    path.write_text(CONSTITUTION)
    settings = Settings(ledger=str(target))
    ledger = await open_ledger(str(target), settings=settings)
    try:
        supervisor = Supervisor(load_constitution(path), ledger=ledger)
        made = await supervisor.check_output(ANSWER, prompt="Who?",
                                             context={"user_ref": EMAIL})
        assert made.action == "block" and made.record_id
        record = ledger.get(made.record_id)
        assert record is not None and record["body"]["store_text"] == "encrypted"
        assert SSN.encode() not in stored_bytes(target)
        opened = keys_for(settings).open(record["body"])
        assert opened.body["texts"]["original"] == ANSWER
    finally:
        await ledger.close()
