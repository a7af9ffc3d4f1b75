"""The built wheel works outside the source tree."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from planhat_api import load_ticket_schema

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_discovers(tmp_path):
    wheel_dir = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(wheel_dir), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(wheel_dir.glob("*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    subprocess.run(
        [str(env_dir / "bin" / "pip"), "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )

    # Run from an empty folder, so nothing can come from the source tree.
    result = subprocess.run(
        [str(env_dir / "bin" / "tap-planhat-tickets"), "--discover"],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        text=True,
    )

    catalog = json.loads(result.stdout)
    stream = catalog["streams"][0]
    assert stream["tap_stream_id"] == "tickets"
    read_properties = {n for n, spec in load_ticket_schema()["properties"].items() if not spec.get("writeOnly")}
    assert set(stream["schema"]["properties"]) == read_properties
