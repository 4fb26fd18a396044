"""schemathesis over the whole OpenAPI document of the running demo service: no server
error, and every answer's status code and media type are ones the document declares."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
# A small budget per operation and mode keeps one engine's run within ~30 s on 2 cores.
EXAMPLES = {"admin positive": 5, "admin negative": 3, "no token": 1}
# A live stream (text/event-stream) never ends for a caller it accepts, so only its
# refusal without a token is examined here; tests/integration/test_alarm_stream.py reads
# its events.
STREAMS = {"GET /api/v1/alarms/stream"}


def run_operation(
    operation, run: str, mode: GenerationMode, base: str, headers: dict[str, str]
) -> str | None:
    """None when every generated case passes, else the first failure's report."""

    @settings(
        max_examples=EXAMPLES[run],
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run: a failure is reproducible
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def examine(case) -> None:
        case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)

    try:
        examine()
    except Unsatisfiable:
        # No parameter and no body: there is no invalid request to make.
        assert mode is GenerationMode.NEGATIVE, operation.label
        return None
    except (Exception, BaseExceptionGroup) as failure:  # schemathesis: a FailureGroup
        return f"{operation.label} ({run}): {explained(failure)}"
    return None


def explained(failure: BaseException) -> str:
    """The failure and, for a group (hypothesis' "flaky" report among them), what each
    of its parts was: the group's own words do not say."""
    if isinstance(failure, BaseExceptionGroup):
        parts = "\n  ".join(explained(e) for e in failure.exceptions)
        return f"{failure}\n  {parts}"
    return f"{type(failure).__name__}: {failure}"


def test_every_operation_conforms_to_the_document(served):
    base, tokens = served
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50, [op.label for op in operations]
    # Revoking tokens last: a generated id may be the admin token's own.
    operations.sort(key=lambda op: op.label.startswith("DELETE /api/v1/tokens"))
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    failures = [
        failure
        for operation in operations
        for run, mode, headers in (
            # The admin token reaches every handler; valid and invalid input.
            ("admin positive", GenerationMode.POSITIVE, admin),
            ("admin negative", GenerationMode.NEGATIVE, admin),
            # No token: the 401 each protected operation documents.
            ("no token", GenerationMode.POSITIVE, {}),
        )
        if not (operation.label in STREAMS and headers)
        and (failure := run_operation(operation, run, mode, base, headers))
    ]
    assert not failures, "\n\n".join(failures)
