"""What every detector is: the `Detector` protocol, its `Findings`, and `Calibrated`.

A module of its own so that detector modules import it from here, not back up from the
package that builds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from supervisor.constitution import Constitution, Principle
from supervisor.decision import Finding

Findings = Mapping[str, tuple[Finding, ...]]


class Detector(Protocol):
    """One kind of local check. `scan` returns findings per principle id that fired."""

    @property
    def kind(self) -> str:
        """The check kind it implements: pii, pattern, dose or semantic."""
        ...

    @property
    def version(self) -> str:
        """What produced a finding, for the decision's provenance (library and model)."""
        ...

    def scan(self, principles: Sequence[Principle], *, prompt: str, text: str) -> Findings:
        """Check `text` (with `prompt` as context) against each principle's own check."""
        ...


@runtime_checkable
class Calibrated(Protocol):
    """A detector whose thresholds were fitted on data; the fit's hash goes in provenance."""

    def calibration_sha256(self, constitution: Constitution) -> str | None:
        """The sha256 of the calibration file used for this constitution, if any."""
        ...
