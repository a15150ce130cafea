"""Record ids that sort by time: 48 bits of milliseconds, then 80 random bits (ULID-like).

Written as 32 lowercase hex digits with a `rec_` prefix so an id from an HTTP header is
recognisable in a log or a support ticket.
"""

from __future__ import annotations

import os
import time


def new_id() -> str:
    millis = time.time_ns() // 1_000_000
    return "rec_" + millis.to_bytes(6, "big").hex() + os.urandom(10).hex()
