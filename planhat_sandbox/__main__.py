"""Run the sandbox CLI with ``python -m planhat_sandbox``."""

from planhat_sandbox.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
