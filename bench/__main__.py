"""Run the benchmarks (``bench_*.py``), each in a process of its own, and fail if one fails.

``python -m bench`` runs all; ``python -m bench search celery`` those whose name contains one of
the words. ``BENCH_SMOKE=1`` (``make bench-smoke``, part of ``make test``) runs each once at tiny
sizes: a benchmark that no longer runs fails the test suite instead of rotting.

A process each: benchmarks register job kinds, start servers and event loops, and load
catalogs; none of it leaks into the next one.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    selected = [n for n in names if not argv or any(a in n for a in argv)]
    if not selected:
        print(f"no benchmark matches {argv}; there are: {', '.join(names)}", file=sys.stderr)
        return 2
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        # Simulated market data: a benchmark measures quantdesk, not the internet.
        "QUANTDESK_PROVIDERS": "sim",
    }
    failed: list[str] = []
    for name in selected:
        print(f"\n== {name} ==", flush=True)
        started = time.perf_counter()
        command = [sys.executable, "-m", f"bench.{name}"]
        code = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        seconds = time.perf_counter() - started
        if code != 0:
            failed.append(name)
            print(f"({name} FAILED with exit code {code} after {seconds:.1f} s)", flush=True)
        else:
            print(f"({name} took {seconds:.1f} s)", flush=True)
    if failed:
        print(f"\n{len(failed)} of {len(selected)} benchmark(s) failed: {', '.join(failed)}")
        return 1
    print(f"\nall {len(selected)} benchmark(s) ran")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
