"""Keys bound to constitutions: a 403 on every route that picks another; the app recorded."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

import pytest

from api import Service
from api.keys import Keys, parse
from supervisor.providers.fake import FakeProvider
from supervisor.settings import Settings
from tests.api.conftest import APP_KEY, AUDITOR_KEY, Served, running

FINANCE_KEY = "finance-key-0123456789abcdef"
ENTRIES = (f"app:wealth:{FINANCE_KEY}:constitutions=finance,app:clinic-app:{APP_KEY},"
           f"auditor:reviewer-1:{AUDITOR_KEY}")
ANSWER = "Index funds spread risk across many companies."
ASK = [{"role": "user", "content": "What is an index fund?"}]

Build = Callable[..., AbstractContextManager[Served]]


@pytest.fixture
def bound_service(settings: Settings) -> Build:
    """`with bound_service(entries) as served:` a service whose keys are `entries`."""

    def build(entries: str = ENTRIES, **changes: Any) -> AbstractContextManager[Served]:
        primary = FakeProvider(lambda _: ANSWER, name="fake:primary")
        return running(Service(replace(settings, **changes), keys=Keys(parse(entries)),
                               resolver=lambda _: primary, warm_primary=False))

    return build


def _calls(constitution: str | None) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(route, body, headers) for each of the four routes that pick a constitution."""
    header = {"x-supervisor-constitution": constitution} if constitution else {}
    chosen = {"model": constitution} if constitution else {}
    picked = {"constitution": constitution} if constitution else {}
    return [("/v1/moderations", {"input": ANSWER, **chosen}, {}),
            ("/v1/supervise", {"prompt": "What is an index fund?", "output": ANSWER,
                               **picked}, {}),
            ("/v1/chat/completions", {"model": "fake:primary", "messages": ASK}, header),
            ("/v1/messages", {"model": "fake:primary", "max_tokens": 50, "messages": ASK},
             header)]


def test_a_finance_key_asking_for_base_is_refused_on_every_route(bound_service: Build
                                                                  ) -> None:
    """403 on all four routes, naming the key's app and the constitutions it may use."""
    with bound_service() as served:
        client = served.client(FINANCE_KEY)
        answers = [client.post(route, json=body, headers=headers)
                   for route, body, headers in _calls("base")]
    for (route, _, _), answer in zip(_calls("base"), answers, strict=True):
        assert answer.status_code == 403, (route, answer.text)
        error = answer.json()["error"]
        assert error["type"] == "permission_error"
        assert "'wealth'" in error["message"] and "finance" in error["message"]
        assert "'base'" in error["message"]


def test_a_finance_key_gets_finance_asked_or_not(bound_service: Build) -> None:
    """The bound constitution is served when named, and is the key's default when not."""
    with bound_service() as served:
        client = served.client(FINANCE_KEY)
        for constitution in ("finance", None):
            for route, body, headers in _calls(constitution):
                answer = client.post(route, json=body, headers=headers)
                assert answer.status_code == 200, (route, answer.text)
        named = client.post("/v1/moderations", json={"input": ANSWER}).json()
        supervised = client.post("/v1/supervise", json={"output": ANSWER}).json()
    assert named["model"].startswith("finance@")
    assert supervised["provenance"]["constitution"]["id"] == "finance"


def test_an_old_format_key_may_use_any_constitution(bound_service: Build) -> None:
    """`role:name:key` without options is unbound: base, finance and the default all work."""
    with bound_service() as served:
        client = served.client(APP_KEY)
        models = [client.post("/v1/moderations", json={"input": ANSWER, "model": m})
                  for m in ("base", "finance", None)]
    assert [m.status_code for m in models] == [200, 200, 200]
    assert models[2].json()["model"].startswith("base@")


def test_a_bound_key_records_its_own_app_and_a_given_name_only_as_a_label(
        bound_service: Build) -> None:
    """x-supervisor-app and context app_id narrow a bound key's app; they never replace it."""
    with bound_service() as served:
        client = served.client(FINANCE_KEY)
        chat = client.post("/v1/chat/completions", json={"model": "fake:primary",
                                                         "messages": ASK},
                           headers={"x-supervisor-app": "advisor-web"})
        supervised = client.post("/v1/supervise", json={
            "output": ANSWER, "context": {"app_id": "advisor-web", "user_ref": "u-1"}})
        record = served.client(AUDITOR_KEY).get(
            f"/v1/audit/records/{chat.headers['x-supervisor-record-id']}").json()["record"]
    assert chat.status_code == 200
    assert record["body"]["context"]["app_id"] == "wealth"
    assert record["body"]["context"]["app_label"] == "advisor-web"
    assert supervised.json()["context"]["app_id"] == "wealth"
    assert supervised.json()["context"]["app_label"] == "advisor-web"


def test_no_key_records_under_another_keys_app(bound_service: Build) -> None:
    """Naming another key's app, bound or not, is a 403; nothing is recorded under it."""
    with bound_service() as served:
        legacy = served.client(APP_KEY).post(
            "/v1/chat/completions", json={"model": "fake:primary", "messages": ASK},
            headers={"x-supervisor-app": "wealth"})
        bound = served.client(FINANCE_KEY).post("/v1/supervise", json={
            "output": ANSWER, "context": {"app_id": "clinic-app"}})
        records = served.client(AUDITOR_KEY).get("/v1/audit/records",
                                                 params={"kind": "decision"}).json()
    assert legacy.status_code == 403 and bound.status_code == 403
    assert "another key's app" in legacy.json()["error"]["message"]
    assert legacy.json()["error"]["param"] == "x-supervisor-app"
    assert bound.json()["error"]["param"] == "context.app_id"
    assert records["records"] == []


def test_an_old_format_key_still_names_its_app(bound_service: Build) -> None:
    """Without options, the caller's name for its app is recorded as the app id, as before."""
    with bound_service() as served:
        supervised = served.client(APP_KEY).post("/v1/supervise", json={
            "output": ANSWER, "context": {"app_id": "advisor"}}).json()
    assert supervised["context"]["app_id"] == "advisor"
    assert supervised["context"]["key"] == "clinic-app"


def test_a_bound_key_sees_only_its_constitutions(bound_service: Build) -> None:
    """GET /v1/constitutions lists what the key may use, with its own default; reading
    another constitution is a 403 like using it."""
    with bound_service() as served:
        bound = served.client(FINANCE_KEY)
        listed = bound.get("/v1/constitutions").json()
        other = bound.get("/v1/constitutions/base")
        everything = served.client(APP_KEY).get("/v1/constitutions").json()
    assert [c["id"] for c in listed["data"]] == ["finance"]
    assert listed["default"] == "finance"
    assert other.status_code == 403
    assert {"base", "healthcare", "finance"} <= {c["id"] for c in everything["data"]}
