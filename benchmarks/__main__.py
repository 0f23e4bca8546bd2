"""``python -m benchmarks [--quick] [--only NAME]``: run, print tables, save JSON.

Servers and files live in one temporary directory that is removed at the end. SIGINT,
SIGTERM and SIGHUP all raise KeyboardInterrupt (SIGINT too, since a shell starts background
jobs with it ignored), so Ctrl-C, a kill or a closed terminal take the same cleanup path.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import FrameType

from benchmarks import listing, listing_during_uploads, memory, upload
from benchmarks.context import DEFAULT, QUICK, Context, progress
from benchmarks.report import Table, environment, render_environment, write_json
from benchmarks.seeding import Seeder
from benchmarks.stack import Stack

BENCHMARKS: dict[str, Callable[[Context], Table]] = {
    upload.NAME: upload.run,
    memory.NAME: memory.run,
    listing.NAME: listing.run,
    listing_during_uploads.NAME: listing_during_uploads.run,
    listing_during_uploads.ELSEWHERE_NAME: listing_during_uploads.run_elsewhere,
}
RESULTS = Path(__file__).parent / "results" / "latest.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller files and fewer models")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these (repeat or comma-separate): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON file ({RESULTS})")
    args = parser.parse_args(argv)
    chosen = [name for item in args.only or [] for name in item.split(",") if name]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.names = [name for name in BENCHMARKS if name in chosen] if chosen else list(BENCHMARKS)
    return args


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """The first stop signal interrupts; later ones are ignored so cleanup can finish."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    profile = QUICK if args.quick else DEFAULT
    env = environment()
    print(render_environment(env), flush=True)
    settings = {"profile": asdict(profile), "benchmarks": args.names, "complete": False}
    tables: dict[str, Table] = {}
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="wru-bench-") as tmp:
            root = Path(tmp)
            progress(f"starting MLflow and the service under {root}")
            with Stack(root) as stack:
                seeder = Seeder(stack.mlflow_url)
                try:
                    context = Context(stack, seeder, profile, root)
                    for name in args.names:
                        tables[name] = BENCHMARKS[name](context)
                        print(f"\n{tables[name].render()}", flush=True)
                        write_json(args.output, env, settings, tables)
                finally:
                    seeder.close()
            progress("servers stopped; removing the temporary directory")
    except KeyboardInterrupt:
        progress("interrupted: servers stopped and temporary files removed")
        return 130
    settings["complete"] = True
    settings["seconds"] = round(time.monotonic() - started, 1)
    write_json(args.output, env, settings, tables)
    print(f"\ntotal {settings['seconds']} s; results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
