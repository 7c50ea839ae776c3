"""An earlier version of the CPU renderer, importable next to the current one, so that a benchmark
can time old and new interleaved in one run (the cores may be shared: runs minutes apart are not
comparable).

:func:`load_baseline_render` writes ``render.py``, ``backend_cpu.py`` and ``cpu_kernels.py`` of a
git revision into ``~/.cache/jwmsim/bench-baseline/<sha>/`` as a package (imports between the three
made relative; everything else still comes from the installed ``jwmsim``) and imports it. numba's
on-disk cache then lives there too, so only the first run compiles.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
BASELINE_FILES = ("render.py", "backend_cpu.py", "cpu_kernels.py")
_RELATIVE = {
    "from jwmsim.gaussians import cpu_kernels": "from . import cpu_kernels",
    "from jwmsim.gaussians.backend_cpu import": "from .backend_cpu import",
}


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def load_baseline_render(ref: str, cache: Path | None = None) -> ModuleType:
    """The ``render`` module of git revision ``ref`` (with its own CPU backend and kernels).

    Raises:
        subprocess.CalledProcessError: ``ref`` is not a revision of this repository.
    """
    sha = _git("rev-parse", "--short=12", ref).strip()
    root = (cache or Path.home() / ".cache" / "jwmsim" / "bench-baseline") / sha
    pkg = f"baseline_{sha}"
    target = root / pkg
    target.mkdir(parents=True, exist_ok=True)
    (target / "__init__.py").write_text(f'"""jwmsim.gaussians renderer at {sha}."""\n')
    for name in BASELINE_FILES:
        text = _git("show", f"{sha}:jwmsim/gaussians/{name}")
        for old, new in _RELATIVE.items():
            text = text.replace(old, new)
        path = target / name
        if not path.is_file() or path.read_text() != text:  # keep numba's cache valid
            path.write_text(text)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(f"{pkg}.render")
