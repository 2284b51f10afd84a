"""``python -m benchmarks [--quick] [--only NAME]``: run the benchmarks (``make bench``)."""

from __future__ import annotations

import argparse

from benchmarks.bench import run_benchmarks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke run)")
    parser.add_argument("--only", default=None, help="run only benchmarks whose name contains this")
    args = parser.parse_args(argv)
    run_benchmarks(quick=args.quick, only=args.only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
