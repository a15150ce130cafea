"""Old spellings that keep working for a while, each with a DeprecationWarning.

docs/architecture.md lists the vocabulary: one word per concept, and the old spelling of
each renamed one, which is accepted until the next minor release.
"""

from __future__ import annotations

import warnings
from typing import TypeVar

from supervisor.errors import ConfigError

T = TypeVar("T")


def renamed(where: str, old: str, old_value: T | None, new: str, new_value: T | None, *,
            stacklevel: int = 3) -> T | None:
    """The value of keyword `new`, or of its old name `old` (with a DeprecationWarning).

    `where` names the callable for the messages; giving both spellings is an error, since
    one of them would be ignored. `stacklevel` points the warning at the caller's line.
    """
    if old_value is None:
        return new_value
    if new_value is not None:
        raise ConfigError(f"{where}: pass {new}= only; {old}= is its old name")
    warnings.warn(f"{where}({old}=...) is deprecated; pass {new}=... instead",
                  DeprecationWarning, stacklevel=stacklevel)
    return old_value
