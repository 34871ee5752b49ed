"""Today's way beside the new one, in the same run: the source of a baseline revision, exported
once from git into a cache folder, and an environment whose processes import it instead of the
working tree's code.

The baseline is ``AICO_BENCH_BASELINE`` (a git revision), or the revision before the lean work
(:data:`DEFAULT`). Processes started with :func:`baseline_env` import ``aico`` from the exported
source (``PYTHONPATH`` comes before the editable install), so one venv runs both; the
``aico`` command of the baseline is its ``aico.cli.launch.main`` run by this interpreter, as
:func:`aico_argv` gives (a console script would import the working tree's code).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench-cache"
DEFAULT = "071f005"  # main before issue 19 (lean): the store layout, CLI and idle loops of then


def baseline_rev() -> str:
    return os.environ.get("AICO_BENCH_BASELINE", DEFAULT)


def baseline_src(rev: str | None = None) -> Path:
    """The ``src`` folder of ``rev``, exported once (``git archive``) under ``.bench-cache``."""
    rev = rev or baseline_rev()
    full = subprocess.run(["git", "rev-parse", "--short=12", rev], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    target = CACHE / f"baseline-{full}"
    done = target / ".exported"
    if not done.exists():
        blob = subprocess.run(["git", "archive", "--format=tar", full, "src"], cwd=ROOT, check=True,
                              capture_output=True).stdout
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            tar.extractall(target, filter="data")
        done.write_text(full + "\n")
    return target / "src"


def baseline_env(env: dict[str, str] | None = None, rev: str | None = None) -> dict[str, str]:
    """``env`` (or this process's) with the baseline's source first on ``PYTHONPATH``."""
    out = dict(os.environ if env is None else env)
    src = str(baseline_src(rev))
    out["PYTHONPATH"] = src + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    return out


def aico_argv(baseline: bool) -> list[str]:
    """How to run ``aico``: the installed command, or the baseline's entry point (with :func:`baseline_env`)."""
    if baseline:
        # the entry point moved: aico.cli.main:main until the CLI got a light launcher (aico.cli.launch)
        return [sys.executable, "-c", "import sys, importlib.util; sys.argv[0] = 'aico'; "
                "name = 'aico.cli.launch' if importlib.util.find_spec('aico.cli.launch') else 'aico.cli.main'; "
                "importlib.import_module(name).main()"]
    return [str(Path(sys.executable).parent / "aico")]


def is_baseline_importable(env: dict[str, str]) -> bool:
    """A check that ``env`` really imports the baseline (guards against an install that wins)."""
    probe = subprocess.run([sys.executable, "-c", "import aico, sys; print(aico.__file__)"], env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    return str(CACHE) in probe
