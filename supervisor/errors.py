"""The project's exceptions, one small tree.

    SupervisorError                 base; exit code 1
    ├── ConfigError                 bad settings, model reference or argument; exit 2
    ├── ConstitutionError           a constitution that does not load; exit 2
    ├── ProviderError               a model call failed; exit 3
    │   ├── ProviderUnavailable     worth retrying (429, 5xx, 529, timeout, reset)
    │   └── ProviderRejected        not worth retrying (400, 401, 403, 404, refusal)
    ├── VerdictError                the judge's answer is not a valid verdict; exit 3
    ├── DeadlineExceeded            checks ran past SUPERVISOR_DEADLINE; exit 3
    ├── LedgerError                 the ledger cannot be read or written; exit 4
    │   └── IntegrityError          verification found a broken chain; exit 5
    └── OutputBlocked               raised only at SDK-shaped boundaries (middleware)

Inside the pipeline a block is a normal return value (a Decision); it becomes
`OutputBlocked` only where the caller expects an SDK call to either return an answer
or raise. Every message says what to do about it; the CLI maps `exit_code` to the
process status. Likewise a supervision past its deadline is an `error` decision; only a
caller that wants verdicts and no decision (`Supervisor.assess`) gets DeadlineExceeded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from supervisor.decision import Decision


class SupervisorError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 1


class ConfigError(SupervisorError):
    """A setting, model reference or argument that cannot be used as given."""

    exit_code = 2


class ConstitutionError(SupervisorError):
    """A constitution that does not load; the message names file, line, key and fix."""

    exit_code = 2

    def __init__(
        self, message: str, *, path: str = "", line: int | None = None, key: str = ""
    ) -> None:
        where = path + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line
        self.key = key


class ProviderError(SupervisorError):
    """A call to a chat model failed."""

    exit_code = 3

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status


class ProviderUnavailable(ProviderError):
    """A failure that may pass: rate limit, overload, server error, timeout, reset."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """A failure that repeating will not fix: bad request, bad key, refusal."""


class VerdictError(SupervisorError):
    """The supervisor model's answer is not a valid verdict for the principles asked."""

    exit_code = 3


class DeadlineExceeded(SupervisorError):
    """The checks of one text ran past their deadline; the message names the setting."""

    exit_code = 3


class LedgerError(SupervisorError):
    """The audit ledger cannot be opened, read or written."""

    exit_code = 4


class UnknownRecord(LedgerError):
    """No record with that id is in the ledger (a 404 to a caller, not an outage)."""


class NotCovered(LedgerError):
    """The record is stored, but no signed checkpoint covers it yet: sign one, then prove."""


class IntegrityError(LedgerError):
    """Verification found a record, link, root or signature that does not hold."""

    exit_code = 5


class OutputBlocked(SupervisorError):
    """The supervisor withheld the answer; carries the decision and its ledger record id."""

    exit_code = 6

    def __init__(self, decision: Decision) -> None:
        principles = ", ".join(decision.violated) or "none"
        super().__init__(
            f"answer withheld: action={decision.action} principles={principles} "
            f"record={decision.record_id or 'unrecorded'}"
            + (f" reason={decision.reason}" if decision.reason else "")
        )
        self.decision = decision
        self.record_id = decision.record_id
        self.principles = decision.violated
