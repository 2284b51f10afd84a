"""``python -m analysis``: see :mod:`analysis.cli`."""

from __future__ import annotations

from analysis.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
