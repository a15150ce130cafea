"""Canonical JSON and the chain hash: the byte-level contract of the ledger.

canonical(x) = JSON with sorted keys, UTF-8 (no ASCII escaping), separators "," and ":",
no NaN/Infinity. A stored line is canonical(record) where record carries its own `hash`.
The hash of record n is

    hash_n = sha256( bytes.fromhex(prev_hash_n) || canonical(record_n without "hash") )

with prev_hash_0 = 64 zeros. Anyone can recompute it with a JSON library and sha256.

The bytes are those of `json.dumps(value, sort_keys=True, ensure_ascii=False,
separators=(",", ":"), allow_nan=False)`, the reference. Every record's body is
serialised under the GIL the append path shares, where the reference was the largest
cost (docs/ledger.md), so orjson writes them wherever it provably agrees with the
reference; the reference writes the rest (see `canonical`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    """The one serialisation that is hashed and stored.

    orjson's bytes where they are provably the reference's: read back they give `value`
    itself (so they are JSON of exactly it: no NaN or infinity written as null, no UUID,
    Enum member, dataclass or datetime turned into a string or an object, no tuple), and
    they hold no float in the forms where orjson and Python's repr() differ. Anything
    else, and whatever orjson refuses (integers over 64 bits, keys that are not
    strings), the reference writes or refuses as it always has.
    """
    try:
        fast = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _reference(value)
    if _float_forms(fast) or orjson.loads(fast) != value:
        return _reference(value)
    return fast


def _reference(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def _float_forms(data: bytes) -> bool:
    """Whether `data` may hold a float that orjson writes unlike repr(): below 1e-4
    ("0.00001" against "1e-05") or in exponent form ("1e-7" against "1e-07"). Found in
    strings too, which only sends that value to the reference. The signs are looked for,
    not the "e", which text is full of."""
    if b"0.0000" in data:
        return True
    for sign in b"+-":
        at = data.find(sign)
        while at != -1:
            if at >= 2 and data[at - 1] == 0x65 and 0x30 <= data[at - 2] <= 0x39:  # 9e-
                return True
            at = data.find(sign, at + 1)
    return False


def chain_hash(prev_hash: str, record: dict[str, Any]) -> str:
    """sha256(prev_hash || canonical(record without its hash field)), hex."""
    unsealed = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(unsealed)).hexdigest()


def seal_line(seq: int, record_id: str, ts: str, kind: str, body: bytes, prev_hash: str
              ) -> tuple[str, bytes]:
    """(hash, stored line) of a record whose body is already canonical bytes.

    Same bytes as canonical(record): "body" sorts first and "hash" second, so the line is
    the unsealed serialisation with the hash spliced in after the body. The body is
    serialised once per record, by the appender; the few fields after it are written
    here directly (`_string`), since sealing runs under the store's lock.
    """
    rest = (f'"id":{_string(record_id)},"kind":{_string(kind)},"prev_hash":'
            f'{_string(prev_hash)},"seq":{int(seq)},"ts":{_string(ts)}}}').encode()
    head = b'{"body":' + body
    digest = hashlib.sha256(bytes.fromhex(prev_hash) + head + b"," + rest).hexdigest()
    return digest, head + b',"hash":"' + digest.encode() + b'",' + rest


def _string(value: str) -> str:
    """A string as canonical() writes it: plain printable ASCII as it is, else json.dumps."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def unsealed_bytes(line: bytes, digest: str) -> bytes:
    """The line without its top-level hash field: what the hash was taken over."""
    marker = b',"hash":"' + digest.encode() + b'"'
    cut = line.rfind(marker)
    return line if cut < 0 else line[:cut] + line[cut + len(marker):]


def text_hash(text: str) -> str:
    """sha256 of a text's UTF-8 bytes, hex: how texts are referenced when not stored."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
