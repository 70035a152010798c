"""Fuzzing: the property tests of tests/hardening/test_properties.py run long.

    .venv/bin/python -m bench.fuzz [--examples 1000000] [-k parser]

Runs each property with ``--examples`` examples (a million by default) and
a fresh random seed, through pytest and hypothesis's "fuzz" profile, and
prints examples per second for each property and the time a million would
take at that rate. A failure prints hypothesis's smallest failing example and
its reproduction line. Not part of the test suite: CI runs the same
properties with 10,000 examples each (CI=true; see docs/performance.md for
the one that runs fewer); this script runs them longer, with random seeds.
pytest's per-test timeout is off here (a long run is the point).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

PROPERTIES = (
    "test_the_command_parser_raises_only_its_own_errors",
    "test_a_resolved_choice_is_one_of_the_options",
    "test_the_csv_import_raises_only_its_own_error",
    "test_the_config_parser_raises_only_config_errors",
    "test_any_config_text_gives_a_config_or_a_config_error",
    "test_every_intake_step_answers_in_the_persons_language",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("-k", default="", help="only properties whose name contains this")
    args = parser.parse_args()
    env = {**os.environ, "HYPOTHESIS_PROFILE": "fuzz", "FUZZ_EXAMPLES": str(args.examples)}
    failed = 0
    for name in (p for p in PROPERTIES if args.k in p):
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-x",
                "--timeout=0",
                "-W",
                "ignore::hypothesis.errors.HypothesisWarning",
                f"tests/hardening/test_properties.py::{name}",
            ],
            env=env,
            check=False,
        )
        seconds = time.perf_counter() - started
        if result.returncode != 0:  # the examples run before it stopped are unknown
            print(f"{name}: FAILED after {seconds:.1f} s (see above)", flush=True)
            failed += 1
            continue
        rate = args.examples / seconds
        print(
            f"{name}: ok, {args.examples} examples in {seconds:.1f} s "
            f"({rate:.0f}/s; a million: {1_000_000 / rate / 3600:.1f} h)",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
