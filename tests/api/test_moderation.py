"""`/v1/moderations` through the official `openai` SDK's `moderations.create`."""

from __future__ import annotations

import openai

from supervisor.constitution import load_constitution
from tests.api.conftest import APP_KEY, Serve


def test_sdk_parses_flags_categories_and_the_supervisor_extension(serve: Serve) -> None:
    """Each base principle's own violating example flags its mapped category."""
    base = load_constitution("base")
    mapped = [p for p in base.principles if p.moderation_category]
    violating = [next(e.output for e in p.examples if e.expect == "violated") for p in mapped]
    with serve() as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key=APP_KEY, max_retries=0)
        raw = client.moderations.with_raw_response.create(
            model="base", input=violating)
        response = raw.parse()
    assert response.model.startswith("base@")
    record_ids = raw.headers["x-supervisor-record-id"].split(",")
    assert len(record_ids) == len(mapped) == len(response.results)
    fired = 0
    for principle, result in zip(mapped, response.results, strict=True):
        # model_extra is Optional in the SDK's type; the service always adds `supervisor`
        extension = result.model_extra["supervisor"]  # type: ignore[index]
        assert extension["record_id"] in record_ids
        if principle.id in extension["violated"]:
            fired += 1
            category = principle.moderation_category
            assert result.flagged
            assert result.categories.model_dump(by_alias=True)[category] is True
            assert result.category_scores.model_dump(by_alias=True)[category] > 0
    assert fired >= len(mapped) // 2, "the local detectors should catch most examples"


def test_identifiers_flag_without_an_openai_category(serve: Serve) -> None:
    """A leaked SSN is flagged though no OpenAI category covers it; scores stay 0."""
    with serve() as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key=APP_KEY, max_retries=0)
        result = client.moderations.create(
            model="healthcare", input="Patient John Smith, SSN 536-22-8193.").results[0]
    assert result.flagged
    assert not any(result.categories.model_dump().values())
    assert not any(result.category_scores.model_dump().values())
    # model_extra is Optional in the SDK's type; the service always adds `supervisor`
    assert result.model_extra["supervisor"]["action"] == "revise"  # type: ignore[index]


def test_benign_text_is_not_flagged(serve: Serve) -> None:
    """A plain answer passes with every category false."""
    with serve() as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key=APP_KEY, max_retries=0)
        result = client.moderations.create(
            input="Drinking water and sleeping well help most people feel better.").results[0]
    assert not result.flagged
    # model_extra is Optional in the SDK's type; the service always adds `supervisor`
    assert result.model_extra["supervisor"]["action"] == "allow"  # type: ignore[index]


def test_unknown_constitution_is_a_404_listing_the_known_ones(serve: Serve) -> None:
    """`model` names a constitution; an unknown one says which exist."""
    with serve() as served:
        response = served.client().post("/v1/moderations",
                                        json={"model": "../../etc/passwd", "input": "x"})
    assert response.status_code == 404
    assert "base" in response.json()["error"]["message"]


def test_non_text_parts_are_refused(serve: Serve) -> None:
    """Image parts cannot be moderated here: 400 naming the part."""
    with serve() as served:
        response = served.client().post("/v1/moderations", json={"input": [
            {"type": "image_url", "image_url": {"url": "data:,"}}]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input[0].type"
