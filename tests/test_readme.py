"""The README's settings tables match what the connectors print."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_settings_tables_current():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_settings.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout


def test_readme_has_both_tables():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    for executable in ("tap-planhat-tickets", "target-planhat-tickets"):
        start = readme.index(f"<!-- settings:{executable} -->")
        end = readme.index(f"<!-- /settings:{executable} -->")
        assert "| api_token | True |" in readme[start:end]
