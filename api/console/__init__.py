"""The compliance review console: server-rendered pages under /console for reviewers.

Auditor and admin keys log in through a form (`login`); the pages are the decisions
list and record page (`pages`), the review queue and form (`review`), the dashboard
(`dashboard`, drawn by `charts`), the evidence export (`evidence`) and the
constitution proposals waiting for a second person (`proposals`). Sessions and CSRF
live in `session`, logged-out sessions in `revocation`, failed logins per address in
`throttle`; `render` turns refusals into pages. `create_app` includes `router`.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.console import dashboard, evidence, login, pages, proposals, review

router = APIRouter()
for _module in (login, pages, review, dashboard, evidence, proposals):
    router.include_router(_module.router)

__all__ = ["router"]
