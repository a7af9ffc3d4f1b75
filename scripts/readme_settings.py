"""Write each connector's settings table, from `--about --format=markdown`, into README.md.

The tables sit between `<!-- settings:EXECUTABLE -->` and
`<!-- /settings:EXECUTABLE -->` markers. `--check` exits 1 when a table is
out of date instead of writing it.

    python scripts/readme_settings.py [--check]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BIN = Path(sys.executable).parent
_MARKED = re.compile(r"(<!-- settings:(?P<exe>[\w-]+) -->\n)(?P<table>.*?)(<!-- /settings:(?P=exe) -->)", re.S)


def settings_table(executable: str) -> str:
    """Return the settings table that `EXECUTABLE --about --format=markdown` prints."""
    about = subprocess.run(
        [str(BIN / executable), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    section = about.split("## Settings", 1)[1]
    rows = [line for line in section.strip().splitlines() if line.startswith("|")]
    return "\n".join(rows) + "\n"


def render(readme: str) -> str:
    """Return the README with every marked table regenerated."""
    return _MARKED.sub(lambda m: f"{m[1]}{settings_table(m['exe'])}{m[4]}", readme)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a table is out of date")
    args = parser.parse_args()

    current = README.read_text(encoding="utf-8")
    updated = render(current)
    if args.check:
        if updated != current:
            print("README.md settings tables are out of date: run python scripts/readme_settings.py")
            return 1
        return 0
    README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
