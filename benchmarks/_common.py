"""Helpers shared by the benchmark scripts: machine info, peak RSS, tables, JSON output.

Not a benchmark itself. The scripts run as ``python benchmarks/<script>.py``, which puts this
folder on ``sys.path``, so they import it as ``_common``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
REPO_DIR = BENCH_DIR.parent


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine_info() -> dict:
    """What the figures were measured on (and which code)."""
    try:
        import simpy

        simpy_version = simpy.__version__
    except Exception:  # pragma: no cover - simpy is a dependency
        simpy_version = None
    try:
        from importlib.metadata import version

        eie_version = version("eie_sim")
    except Exception:  # pragma: no cover
        eie_version = None
    status = _git("status", "--porcelain", "--", "eie_sim", "workloads")
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy_version": np.__version__,
        "simpy_version": simpy_version,
        "eie_sim_version": eie_version,
        "fast_engine_loops": _fast_engine_loops(),
        "git_commit": _git("rev-parse", "HEAD"),
        # The library is edited concurrently; record whether the measured code was committed.
        "library_has_uncommitted_changes": bool(status) if status is not None else None,
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _fast_engine_loops() -> str:
    """Which code runs the fast path's hot loops: the compiled loops or numpy."""
    from eie_sim import accel

    return accel.description()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process image so far: ``VmHWM`` on Linux (``ru_maxrss``
    keeps the parent's high-water mark across fork and exec), else ``ru_maxrss`` (KiB on Linux,
    bytes on macOS)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss) if sys.platform == "darwin" else int(rss) * 1024


def timed(fn, *args, **kwargs):
    """``(seconds, result)`` of one call, measured with ``time.perf_counter``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """Plain-text table; ``align``: 'l'/'r' per column (default: first left, the rest right)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or ("l" + "r" * (len(headers) - 1))

    def fmt(row):
        return "  ".join(
            c.ljust(w) if a == "l" else c.rjust(w)
            for c, w, a in zip(row, widths, align, strict=True)
        )

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(cells[0]), sep, *(fmt(r) for r in cells[1:])])


def write_json(script: str, data: dict) -> Path:
    """Write ``benchmarks/results/<script>.json`` (machine info added) and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{script}.json"
    payload = {"benchmark": script, "machine": machine_info(), **data}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)
    return path


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
