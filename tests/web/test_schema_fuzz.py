"""Schemathesis against the live server's OpenAPI schema: no request the schema allows may cause a 5xx.

Bounded: a few generated examples per operation (positive and negative data),
authenticated with an analyst token. The operations are driven with Hypothesis
directly (``APIOperation.as_strategy``), which works with every pytest version.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.web.conftest import LiveServer, bearer, make_workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    """A server of its own: the fuzzer starts jobs that change the data other tests read."""
    from cvm.web.app import create_app

    made = make_workspace(tmp_path_factory.mktemp("fuzz") / "ws")
    server = LiveServer(create_app(made["path"], max_upload_mb=1, job_workers=1)).start()
    server.tokens = made["tokens"]
    yield server
    server.stop()


def test_no_server_errors(fuzz_server):
    live_server = fuzz_server
    headers = bearer(fuzz_server.tokens["analyst"])
    document = httpx.get(live_server.url + "/api/openapi.json", headers=headers).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    called: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                      database=None)
            def run(case):
                case.call_and_validate(base_url=live_server.url, headers=headers, checks=[not_a_server_error])
                called.append(operation.label)

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # an operation without parameters has no invalid input
    assert len(set(called)) == len(operations)
