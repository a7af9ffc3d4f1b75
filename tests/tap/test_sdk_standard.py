"""The Singer SDK's standard tap tests, run against the sandbox.

The SDK builds the test class when this module is imported, before any
fixture runs, so the config starts with a placeholder URL and token; the
autouse fixture fills in the sandbox's before the first test.
"""

from __future__ import annotations

import pytest
from singer_sdk.testing import get_tap_test_class

from planhat_sandbox import Sandbox
from tap_planhat_tickets.tap import TapPlanhatTickets

SDK_TEST_CONFIG: dict[str, object] = {
    "api_url": "http://127.0.0.1:9",
    "api_token": "sdk-standard-token",
    "page_size": 250,
}


@pytest.fixture(scope="module", autouse=True)
def sandbox_for_sdk_tests():
    with Sandbox() as sandbox:
        sandbox.add_workspace("sdk", token="sdk-standard-token", tickets=1_200, seed=7)
        SDK_TEST_CONFIG["api_url"] = sandbox.url
        yield sandbox


TestTapPlanhatTickets = get_tap_test_class(TapPlanhatTickets, config=SDK_TEST_CONFIG)
