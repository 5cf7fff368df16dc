"""Run one fuzz target under atheris, or every target for a few seconds each.

    python -m fuzz TARGET [atheris/libFuzzer options, e.g. -max_total_time=600]
    python -m fuzz --all SECONDS      # each target SECONDS seconds, one after another
    python -m fuzz --ci               # each target 1000 runs from seed 1 (deterministic)
    python -m fuzz --list

Crashes are written by libFuzzer as crash-* files in the current directory; each becomes
a regression test in tests/test_fuzz_regressions.py.
"""

from __future__ import annotations

import subprocess
import sys


def main() -> None:
    from fuzz.targets import TARGETS

    if len(sys.argv) < 2 or sys.argv[1] == "--list":
        print("\n".join(TARGETS))
        return
    if sys.argv[1] in ("--all", "--ci"):
        if sys.argv[1] == "--ci":
            budget = ["-runs=1000", "-seed=1"]
        else:
            budget = [f"-max_total_time={sys.argv[2] if len(sys.argv) > 2 else '5'}"]
        failed = []
        for name in TARGETS:
            code = subprocess.call(
                [
                    sys.executable,
                    "-m",
                    "fuzz",
                    name,
                    *budget,
                    "-rss_limit_mb=2048",
                    "-timeout=10",
                    "-artifact_prefix=fuzz-",
                ]
            )
            if code:
                failed.append(name)
        print("failed:", ", ".join(failed) if failed else "none")
        sys.exit(1 if failed else 0)
    name = sys.argv[1]
    import os
    import tempfile

    import atheris

    from fuzz.targets import run_one, seeds

    corpus = tempfile.mkdtemp(prefix=f"fuzz-{name}-")
    for i, seed in enumerate(seeds(name)):
        run_one(name, seed)  # imports everything the target reaches ...
        with open(os.path.join(corpus, f"seed{i}"), "wb") as handle:
            handle.write(seed)
    atheris.instrument_all()  # ... so coverage is collected in all of it
    atheris.Setup([sys.argv[0], *sys.argv[2:], corpus], lambda data: run_one(name, data))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
