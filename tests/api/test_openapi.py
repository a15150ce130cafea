"""schemathesis against the app's own OpenAPI document: no generated request gets a 5xx."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api import create_app
from supervisor.providers.fake import FakeProvider
from tests.api.conftest import ADMIN_KEY, Serve

EXAMPLES = 25  # per operation; each proxy case runs a whole supervision


@pytest.mark.slow
def test_no_generated_case_gets_a_server_error(serve: Serve) -> None:
    """Every operation, fed schema-generated (and schema-breaking) inputs, answers < 500."""
    answer = FakeProvider(lambda request: "Rest, fluids, and see a doctor if it persists.")
    with serve(resolver=lambda ref: answer) as served:
        document = create_app(served.service).openapi()
        schema = schemathesis.openapi.from_dict(document)
        failures: list[str] = []
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15

        for operation in operations:
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy())
            def check(case: schemathesis.Case) -> None:
                response = case.call(base_url=served.url, timeout=60,
                                     headers={"Authorization": f"Bearer {ADMIN_KEY}"})
                if response.status_code >= 500 and case.path != "/readyz":  # 503: not yet
                    failures.append(f"{case.method} {case.formatted_path} -> "
                                    f"{response.status_code}: {response.text[:300]}")
                hypothesis.note(response.text[:200])

            check()
    assert not failures, "\n".join(failures[:10])
