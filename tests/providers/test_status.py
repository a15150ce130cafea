"""Vendor HTTP failures sorted into retryable and not, with the server's requested wait."""

from __future__ import annotations

import pytest

from supervisor.errors import ProviderRejected, ProviderUnavailable
from supervisor.providers.status import from_status, retry_after


@pytest.mark.parametrize(("status", "kind"), [
    (400, ProviderRejected), (401, ProviderRejected), (403, ProviderRejected),
    (404, ProviderRejected), (413, ProviderRejected), (422, ProviderRejected),
    (408, ProviderUnavailable), (409, ProviderUnavailable), (429, ProviderUnavailable),
    (500, ProviderUnavailable), (502, ProviderUnavailable), (503, ProviderUnavailable),
    (529, ProviderUnavailable),
])
def test_status_decides_whether_to_retry(status: int, kind: type[Exception]) -> None:
    """Rate limits, timeouts and 5xx (529 included) retry; other 4xx do not."""
    error = from_status(status, "m", {}, provider="openai:x")
    assert type(error) is kind and error.status == status


def test_retry_after_forms() -> None:
    """retry-after in seconds or as an HTTP date, and retry-after-ms, in seconds."""
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"},
                       now=1445412480.0) == 10.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_rate_limit_error_carries_the_wait() -> None:
    """A 429's retry-after travels on the exception."""
    error = from_status(429, "slow down", {"retry-after": "4"}, provider="anthropic:x")
    assert isinstance(error, ProviderUnavailable) and error.retry_after == 4.0


def test_auth_failure_says_what_to_check() -> None:
    """A 401 tells the user to check the API key."""
    assert "API key" in str(from_status(401, "invalid x-api-key", {}, provider="a:b"))
