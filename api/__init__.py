"""The HTTP service: moderation, supervision, the vendor-compatible supervising proxies,
the audit routes and (under /console) the review console. `create_app(service)` builds it;
`supervisor serve` runs it.

`Service` and `create_app` are imported on first use (PEP 562), not with the package: a
multi-worker server's parent process only reads the keys (`api.keys`) and hands the app
to its workers, and importing the app would load the detectors' libraries into it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app
    from api.service import Service

__all__ = ["Service", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app

        return create_app
    if name == "Service":
        from api.service import Service

        return Service
    raise AttributeError(f"module 'api' has no attribute {name!r}")
