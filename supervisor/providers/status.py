"""HTTP failures of vendor APIs, sorted into the two kinds the resilience layer acts on.

Both vendor SDKs report a failed call with a status code and the response headers; what
to do about it does not depend on the vendor. A failure that may pass (rate limit,
overload, server error, request timeout) is `ProviderUnavailable`, carrying the server's
`retry-after` when it sent one; a failure that repeating cannot fix (bad request, bad
key, no such model) is `ProviderRejected`. Both adapters build their errors here so the
two vendors can never drift apart on what is retried.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from supervisor.errors import ProviderError, ProviderRejected, ProviderUnavailable

# 408 request timeout, 409 conflict (Anthropic: retry), 425 too early, 429 rate limit;
# every 5xx, including Anthropic's 529 "overloaded".
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


def retryable(status: int) -> bool:
    """Whether a call that failed with `status` is worth trying again."""
    return status in RETRYABLE_4XX or status >= 500


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, `retry-after` (seconds or date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms", "").strip()
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def from_status(status: int, message: str, headers: Mapping[str, str], *,
                provider: str) -> ProviderError:
    """The exception for a vendor's error response: retryable or not, with its wait."""
    text = f"{provider} answered HTTP {status}: {message}".rstrip(": ")
    if retryable(status):
        return ProviderUnavailable(text, provider=provider, status=status,
                                   retry_after=retry_after(headers))
    hint = {401: " (check the API key)", 403: " (the key lacks permission)",
            404: " (check the model name and base URL)"}.get(status, "")
    return ProviderRejected(text + hint, provider=provider, status=status)
