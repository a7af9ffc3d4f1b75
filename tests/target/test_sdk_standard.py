"""The Singer SDK's standard target tests, run against the sandbox.

The standard input files carry no tickets, so a stream map turns every
record of every stream into one: `sourceId` from the stream name and the
record's id, a fixed email and company. Left out, with the reason:

- TargetMultipleStateMessages (also left out of the SDK's default suite):
  it expects a STATE after intermediate drains. This target emits STATE only
  after every sink is drained, at the end of the input or every 5 minutes,
  so small inputs yield only their last STATE.
"""

from __future__ import annotations

import importlib.resources

import pytest
from singer_sdk.testing import SuiteConfig, get_target_test_class, target_test_streams
from singer_sdk.testing.runners import TargetTestRunner

from planhat_sandbox import Sandbox
from target_planhat_tickets.target import TargetPlanhatTickets

STANDARD_TEST_MAPS = {
    "*": {
        "sourceId": (
            "__stream_name__ + '-' + "
            "str(record.get('id', record.get('Id', record.get('_id', 'no-id'))))"
        ),
        "email": "'standard-tests@company-1.example'",
        "companyExternalId": "'CRM-00001'",
    },
}

_StandardTargetTests = get_target_test_class(TargetPlanhatTickets, config={})


@pytest.fixture(scope="module")
def standard_sandbox():
    with Sandbox() as running:
        running.add_workspace("standard", token="token-standard", seed=3, companies=5)
        yield running


class TestTargetStandard(_StandardTargetTests):
    """Standard target tests with a sandbox workspace as the destination."""

    @pytest.fixture
    def runner(self, standard_sandbox) -> TargetTestRunner:
        config = {
            "api_url": standard_sandbox.url,
            "api_token": "token-standard",
            "retry_initial_wait_seconds": 0,
            "stream_maps": STANDARD_TEST_MAPS,
        }
        return TargetTestRunner(
            TargetPlanhatTickets, config=config, suite_config=SuiteConfig()
        )


def test_standard_maps_create_tickets(standard_sandbox):
    runner = TargetTestRunner(
        TargetPlanhatTickets,
        config={
            "api_url": standard_sandbox.url,
            "api_token": "token-standard",
            "stream_maps": STANDARD_TEST_MAPS,
        },
        input_filepath=importlib.resources.files(target_test_streams)
        / "array_data.singer",
    )

    runner.sync_all()

    workspace = standard_sandbox.workspace("standard")
    external_ids = {ticket["externalId"] for ticket in workspace.tickets()}
    assert {f"test_array_data-{number}" for number in range(1, 5)} <= external_ids
