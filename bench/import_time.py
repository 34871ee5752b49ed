"""Import time of the logger library, beside the stdlib's ``logging``; and of ``aico --help``.

Each figure is the median wall time of several fresh interpreters (the interpreter's own start
is measured alone, ``python -c pass``, and subtracted), so the number is what an application
pays at start for ``import aico.logging`` over ``import logging``. The module count is what
that import leaves in ``sys.modules``. ``aico --help`` (the whole CLI) is for information.

    python bench/import_time.py [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

AICO = str(Path(sys.executable).parent / "aico")


def wall(argv: list[str], runs: int) -> float:
    """The median seconds of ``runs`` runs of ``argv`` (each a new process)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def modules(statement: str) -> int:
    out = subprocess.run([sys.executable, "-c", f"import sys\n{statement}\nprint(len(sys.modules))"],
                         check=True, capture_output=True, text=True)
    return int(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    python = [sys.executable, "-c"]
    bare = wall([*python, "pass"], args.runs)
    stdlib = wall([*python, "import logging"], args.runs) - bare
    ours = wall([*python, "import aico.logging"], args.runs) - bare
    cli = wall([AICO, "--help"], args.runs)
    result = {
        "runs": args.runs,
        "interpreter_s": round(bare, 4),
        "import_logging_s": round(stdlib, 4),
        "import_aico_logging_s": round(ours, 4),
        "ratio": round(ours / stdlib, 1) if stdlib > 0 else None,
        "modules_logging": modules("import logging"),
        "modules_aico_logging": modules("import aico.logging"),
        "aico_help_s": round(cli, 4),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"import time, median of {args.runs} fresh interpreters (interpreter start {bare * 1000:.0f} ms subtracted)")
    print(f"  import logging        {stdlib * 1000:7.1f} ms   {result['modules_logging']:4d} modules")
    print(f"  import aico.logging   {ours * 1000:7.1f} ms   {result['modules_aico_logging']:4d} modules"
          f"   ({result['ratio']}x logging)")
    print(f"  aico --help           {cli * 1000:7.1f} ms   (whole process, for information)")


if __name__ == "__main__":
    main()
