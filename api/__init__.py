"""The HTTP service: moderation, supervision, the vendor-compatible supervising proxies,
the audit routes and (under /console) the review console. `create_app(service)` builds it;
`supervisor serve` runs it."""

from api.app import create_app
from api.service import Service

__all__ = ["Service", "create_app"]
