"""Round trip: the tap reads workspace A, the target writes into an empty B."""

from __future__ import annotations

import json
import subprocess

from tests.target.conftest import TARGET, run_target, target_config

TAP = TARGET.parent / "tap-planhat-tickets"


def read_with_tap(tmp_path, sandbox, token):
    config_path = tmp_path / "tap-config.json"
    config_path.write_text(json.dumps({"api_url": sandbox.url, "api_token": token}))
    completed = subprocess.run(
        [str(TAP), "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    output = tmp_path / "tap-output.singer"
    output.write_text(completed.stdout)
    return output


def test_round_trip_preserves_tickets(tmp_path, sandbox):
    source = sandbox.add_workspace("a", token="token-a", tickets=500, seed=1)
    # Same seed and company count: B gets A's companies with A's ids, as a
    # staging copy of a workspace does, and no tickets.
    copy = sandbox.add_workspace(
        "b", token="token-b", seed=1, companies=len(source.companies)
    )
    assert copy.companies == source.companies
    tap_output = read_with_tap(tmp_path, sandbox, "token-a")

    run = run_target(tmp_path, target_config(sandbox), tap_output)

    assert run.returncode == 0, run.stderr
    originals = {ticket["externalId"]: ticket for ticket in source.tickets()}
    copies = {ticket["externalId"]: ticket for ticket in copy.tickets()}
    assert sorted(copies) == sorted(originals)
    for external_id, original in originals.items():
        copied = copies[external_id]
        assert copied["subject"] == original["subject"], external_id
        assert copied["snippet"] == original["snippet"], external_id
        assert copied["status"] == original["status"], external_id
        # A null or missing `tags` is left out of the PUT, and the API
        # creates a ticket without tags with an empty list.
        assert copied["tags"] == (original.get("tags") or []), external_id
        assert copied["custom"] == original["custom"], external_id
        assert copied["companyId"] == original["companyId"], external_id
    assert (
        "received 500, created 500, updated 0, unchanged 0, skipped as invalid 0"
        in run.stderr
    )


def test_second_copy_changes_nothing(tmp_path, sandbox):
    source = sandbox.add_workspace("a", token="token-a", tickets=50, seed=2)
    copy = sandbox.add_workspace(
        "b", token="token-b", seed=2, companies=len(source.companies)
    )
    tap_output = read_with_tap(tmp_path, sandbox, "token-a")

    first = run_target(tmp_path, target_config(sandbox), tap_output)
    second = run_target(tmp_path, target_config(sandbox), tap_output)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert len(copy) == 50
    assert "received 50, created 0, updated 0, unchanged 50," in second.stderr
