"""Schema fuzzing: schemathesis generates requests (valid and invalid) from our OpenAPI document and sends
them to a real server subprocess on 127.0.0.1; no response may be a 5xx or disagree with the document."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Invalid data must be refused with a 4xx: schemathesis' own check for that does not count 413 (too
# large), which our limits use, so the test checks the statuses itself. Positive data acceptance is left
# out on purpose: a question that fits the schema can still be refused (413 over the configured length
# limit, 422 when normalization leaves no words), as documented.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 40  # per operation and generation mode: about 30 s in all for the six operations


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis folder left behind; every run starts fresh and stays bounded
    derandomize=True,  # the same examples on every run: a failure here is reproducible, not luck
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def operations(base: str) -> list[Any]:
    results: list[Any] = list(schemathesis.openapi.from_url(f"{base}/openapi.json").get_all_operations())
    return [result.ok() for result in results]  # an Err raises here: the schema must load whole


def fuzz(operation: Any, mode: GenerationMode) -> Counter[int]:
    """Send the operation's generated cases, checking each response; the statuses seen."""
    statuses: Counter[int] = Counter()

    @SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        statuses[case.call_and_validate(checks=CHECKS, timeout=30).status_code] += 1

    check()
    return statuses


# schemathesis' own pytest plugin does not run under pytest 9 yet (it reads Function._nodeid), so the
# operations are driven through hypothesis directly: the same strategies and checks.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_schema(served, mode: GenerationMode) -> None:
    base, _ = served
    found = operations(base)
    seen: dict[str, Counter[int]] = {}
    assert {op.label for op in found} >= {"POST /api/ask", "POST /api/search", "POST /v1/chat/completions"}
    for operation in found:
        if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # nothing to make invalid: no body, and any string is a valid path segment

        seen[operation.label] = fuzz(operation, mode)
    # The fuzzer got past validation to the pipeline with valid data, and sent enough of it.
    assert all(sum(counts.values()) >= 10 for label, counts in seen.items() if label.startswith("POST")), seen
    if mode is GenerationMode.POSITIVE:
        assert all(seen[label][200] > 0 for label in ("POST /api/ask", "POST /api/search")), seen
    else:
        assert all(set(counts) <= {400, 413, 422} for counts in seen.values()), seen
