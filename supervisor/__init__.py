"""Constitutional supervision: check a model's answers against YAML principles, and record
every decision in a tamper-evident ledger.

The public API is what `__all__` lists; tests/test_public_api.py guards it.
"""

from supervisor.constitution import Constitution, Principle, load_constitution
from supervisor.decision import Action, Decision, Finding, Provenance, Revision, Usage, Verdict
from supervisor.errors import (
    ConfigError,
    ConstitutionError,
    DeadlineExceeded,
    IntegrityError,
    LedgerError,
    OutputBlocked,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    SupervisorError,
    VerdictError,
)
from supervisor.middleware import supervised
from supervisor.pipeline import Supervisor
from supervisor.policy import decide

__all__ = [
    "Action",
    "ConfigError",
    "Constitution",
    "ConstitutionError",
    "DeadlineExceeded",
    "Decision",
    "Finding",
    "IntegrityError",
    "LedgerError",
    "OutputBlocked",
    "Principle",
    "Provenance",
    "ProviderError",
    "ProviderRejected",
    "ProviderUnavailable",
    "Revision",
    "Supervisor",
    "SupervisorError",
    "Usage",
    "Verdict",
    "VerdictError",
    "decide",
    "load_constitution",
    "supervised",
]
