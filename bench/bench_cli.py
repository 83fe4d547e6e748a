"""Start-up time of the command line: `ecgcorpus --help` against `python -c "import click"`.

Both are whole processes, alternated, median of ``--repeats``; the ratio is what the CLI adds to
the interpreter and click, which any click CLI pays.

    python bench/bench_cli.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    repeats = ap.parse_args().repeats
    ours, reference = [], []
    for _ in range(repeats):
        ours.append(timed([sys.executable, "-m", "ecgcorpus.cli", "--help"]))
        reference.append(timed([sys.executable, "-c", "import click"]))
    a, b = statistics.median(ours), statistics.median(reference)
    print(f"ecgcorpus --help {a:.3f} s, python -c 'import click' {b:.3f} s (medians of {repeats})")
    print(f"RESULT bench_cli help_s={a:.3f} import_click_s={b:.3f} ratio_help_vs_import_click={a / b:.2f}")


if __name__ == "__main__":
    main()
