"""Parameter sweeps: a grid of architectures x parameters x workloads -> a tidy table.

Each point (one architecture config, one workload, one engine and energy table) runs through any
:class:`concurrent.futures.Executor`: a local process pool by default, or a Dask cluster
(``distributed.Client(...).get_executor()``). With ``cache_dir`` every finished point is written
atomically to ``cache_dir/points/<key>.json``, keyed by a hash of everything that determines its
result, so a sweep that is killed and started again recomputes nothing that finished.

A workload is a registered name or a synthetic layer given as a dict of
:class:`workloads.LayerSpec` fields (``{"inputs": 4096, "outputs": 1024, ...}``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from eie_sim import registry
from eie_sim.accel import available_cores
from eie_sim.config import ArchConfig
from eie_sim.errors import CapacityError, ConfigError, EieSimError, WorkloadError
from eie_sim.limits import max_memory, read_text_file
from eie_sim.result import dumps, write_atomic

#: 2: rows carry status / error and the machine; 3: the config hash; 4: entries carry their
#: key, point and a SHA-256 of the row, checked on every read.
CACHE_VERSION = 4
#: A cache entry larger than this is corrupt (a row is a few KB).
MAX_CACHE_ENTRY_BYTES = 1 << 20
#: ``sweep.json`` larger than this is refused by :meth:`SweepResult.load`.
MAX_SWEEP_JSON_BYTES = 1 << 30
KEY_FIELDS = ("arch", "workload", "seed", "engine", "energy_table")


@dataclass(frozen=True)
class Point:
    """One simulation of a sweep (plain data, so it pickles to any executor)."""

    config: dict[str, Any]  # ArchConfig.to_dict()
    workload: str | dict[str, Any]
    seed: int | None
    engine: str
    energy: str
    swept: dict[str, Any] = field(default_factory=dict)  # the grid coordinates of this point

    def key(self) -> str:
        """Hash of everything the result depends on."""
        from eie_sim import __version__

        energy = self.energy
        if Path(energy).is_file():  # a user's table: its content matters, not its path
            energy = hashlib.sha256(Path(energy).read_bytes()).hexdigest()
        blob = json.dumps([CACHE_VERSION, __version__, self.config, self.workload, self.seed,
                           self.engine, energy], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def label(self) -> str:
        if isinstance(self.workload, str):
            return self.workload
        w = self.workload
        return w.get("name") or f"synthetic-{w['inputs']}x{w['outputs']}"


@lru_cache(maxsize=8)
def _build_workload(workload_json: str, seed: int | None):
    from eie_sim.workloads import LayerSpec, get_workload, single_layer

    workload = json.loads(workload_json)
    if isinstance(workload, str):
        return get_workload(workload, seed)
    spec = dict(workload)
    spec.setdefault("name", f"synthetic-{spec['inputs']}x{spec['outputs']}")
    if seed is not None:
        spec["seed"] = seed
    return single_layer(LayerSpec(**spec))


def run_point(point: Point) -> dict[str, Any]:
    """Simulate one point and return its table row (runs in a worker process).

    A point the machine cannot run (a :class:`~eie_sim.errors.CapacityError`: the weights do
    not fit, an operand stage does not fit the buffer) is a row with ``status`` 'infeasible'
    and the reason in ``error``, so one such point never aborts a sweep."""
    from eie_sim.simulate import simulate

    acc = registry.get(point.config["arch"])
    config = acc.config.from_dict(point.config)
    wl = _build_workload(json.dumps(point.workload, sort_keys=True), point.seed)
    try:
        result = simulate(config, wl, engine=point.engine, energy=point.energy)
    except CapacityError as err:
        return {**_coordinates(point), "machine": acc.summary(config), "status": "infeasible",
                "error": str(err)}
    return row_of(point, result)


def run_points(points: Sequence[Point]) -> list[dict[str, Any]]:
    """:func:`run_point` on each of ``points`` in order (one task of a worker; its points share
    a workload)."""
    return [run_point(p) for p in points]


#: Tasks per worker a sweep is cut into (more: finer progress and balance; fewer: fewer
#: workers build the same workload).
TASKS_PER_WORKER = 4


def _chunks(points: Sequence[Point], todo: Sequence[int], workers: int) -> list[list[int]]:
    """``todo`` cut into tasks: grouped by workload and seed (a worker builds a workload once
    and reuses it for the task's points), each at most ``len(todo) / (workers x
    TASKS_PER_WORKER)`` points so the workers stay balanced; big tasks first."""
    size = max(1, -(-len(todo) // (workers * TASKS_PER_WORKER)))
    groups: dict[str, list[int]] = {}
    for i in todo:
        wl = json.dumps([points[i].workload, points[i].seed], sort_keys=True)
        groups.setdefault(wl, []).append(i)
    chunks = [g[k:k + size] for g in groups.values() for k in range(0, len(g), size)]
    return sorted(chunks, key=len, reverse=True)


def _roof(point: Point) -> dict[str, float]:
    """The machine's roofline: peak GFLOP/s (2 x peak MACs per cycle x clock) and DRAM GB/s."""
    from eie_sim.compare import resources

    config = registry.get(point.config["arch"]).config.from_dict(point.config)
    res = resources(config)
    return {"peak_gflops": 2 * res.peak_macs_per_cycle * res.clock_mhz / 1e3,
            "dram_bandwidth_gbps": res.dram_bandwidth_gbps}


def config_hash(config: dict[str, Any]) -> str:
    """A short hash of a full config (the key of a sweep's machines table)."""
    blob = json.dumps(config, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _coordinates(point: Point) -> dict[str, Any]:
    """The columns that say which point a row is."""
    return {
        "arch": point.config["arch"],
        "workload": point.label(),
        "seed": point.seed,
        "engine": point.engine,
        "energy_table": Path(point.energy).stem if Path(point.energy).is_file() else point.energy,
        **point.swept,
        "num_pes": point.config.get("num_pes"),
        "config_hash": config_hash(point.config),
    }


def row_of(point: Point, result) -> dict[str, Any]:
    """A tidy row: the point's coordinates, then its results (totals over the layers)."""
    busy = sum(int(layer.unit_busy_cycles.sum()) for layer in result.layers)
    stall = sum(int(layer.unit_stall_cycles.sum()) for layer in result.layers)
    unit_cycles = sum(layer.unit_busy_cycles.size * layer.cycles for layer in result.layers)
    macs = sum(layer.macs for layer in result.layers)
    slots = sum(layer.cycles * layer.peak_macs_per_cycle for layer in result.layers)
    traffic = result.traffic_bytes
    sram = sum(d["read"] + d["write"] for lvl, d in traffic.items()
               if lvl.endswith("sram"))
    row: dict[str, Any] = {
        **_coordinates(point),
        "machine": result.machine,
        "status": "ok",
        "error": "",
        "layers": len(result.layers),
        "weight_density": result.layers[0].weight_density,
        "effective_weight_density": result.layers[0].effective_weight_density,
        "activation_density": result.layers[0].activation_density,
        "cycles": result.cycles,
        "time_us": result.time_us,
        "load_balance_efficiency": busy / (busy + stall) if busy + stall else 1.0,
        "unit_utilization": busy / unit_cycles if unit_cycles else 0.0,
        "macs": macs,
        "mac_slot_utilization": macs / slots if slots else 0.0,
        **_roof(point),
        "dram_read_bytes": traffic.get("dram", {}).get("read", 0),
        "dram_write_bytes": traffic.get("dram", {}).get("write", 0),
        "sram_bytes": sram,
        "outputs_match_reference": result.outputs_match_reference,
    }
    energy = result.energy
    if energy is not None:
        row.update({"energy_pj": energy.total_pj, "dynamic_pj": energy.dynamic_pj,
                    "leakage_pj": energy.leakage_pj, "power_mw": energy.power_mw})
        row.update({f"energy_pj.{unit}": pj for unit, pj in sorted(energy.by_unit.items())})
    return row


@dataclass
class SweepResult:
    """The table of a sweep: one row (dict) per point, in grid order."""

    rows: list[dict[str, Any]]
    computed: int = 0  # points simulated in this call (the rest came from the cache)
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)  # config_hash -> config

    @property
    def columns(self) -> list[str]:
        cols: list[str] = []
        for row in self.rows:
            cols += [c for c in row if c not in cols]
        return cols

    def to_dataframe(self):
        """The table as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise EieSimError("to_dataframe needs pandas: pip install pandas") from None
        return pd.DataFrame(self.rows, columns=self.columns)

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return buf.getvalue()

    def to_json(self) -> str:
        """The rows, and the machines table: every row's ``config_hash`` -> its full config."""
        try:
            return json.dumps({"columns": self.columns, "rows": self.rows,
                               "machines": self.machines}, indent=1, allow_nan=False) + "\n"
        except ValueError:
            raise EieSimError("a sweep row holds NaN or infinity; JSON allows finite numbers "
                              "only") from None

    def save(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``sweep.csv`` and ``sweep.json`` into ``out_dir`` (atomically)."""
        out = Path(out_dir)
        csv_path, json_path = out / "sweep.csv", out / "sweep.json"
        write_atomic(csv_path, self.to_csv())
        write_atomic(json_path, self.to_json())
        return csv_path, json_path

    @classmethod
    def load(cls, out_dir: str | Path) -> SweepResult:
        src = Path(out_dir)
        if src.exists() and not src.is_dir():
            raise EieSimError(f"{src} is not a directory; allowed: a sweep directory (the "
                              "--out DIR of 'eie-sim sweep', with sweep.json)")
        path = src / "sweep.json"
        if not path.exists():
            raise EieSimError(f"no sweep results in {out_dir} (expected {path.name}); "
                              "run 'eie-sim sweep --out DIR' first")
        text = read_text_file(path, "sweep result", limit=MAX_SWEEP_JSON_BYTES,
                              error=EieSimError)
        try:
            data = json.loads(text)
            return cls(rows=list(data["rows"]), machines=dict(data.get("machines", {})))
        except (ValueError, KeyError, TypeError, RecursionError):
            raise EieSimError(f"{path} is not a sweep result file") from None


def grid(archs: ArchConfig | Sequence[ArchConfig], workloads: Iterable[str | dict],
         params: dict[str, Sequence[Any]] | None = None, *, seeds: Sequence[int | None] = (None,),
         engine: str = "fast", energy: str = "default") -> list[Point]:
    """The points of a sweep: every arch x parameter combination x workload x seed.

    ``params`` maps a config field to its values; a field an arch does not have is skipped for
    that arch (so one grid can sweep e.g. ``num_pes`` over EIE and the dense baseline). The
    special key ``workload.<field>`` sweeps a synthetic workload's field. ``energy`` is a table
    for every point, or ``"default"``: each machine's own (``config.energy_table``).
    """
    from eie_sim.simulate import resolve_energy

    archs = [archs] if isinstance(archs, ArchConfig) else list(archs)
    params = dict(params or {})
    wl_params = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith("workload.")}
    cfg_params = {k: v for k, v in params.items() if not k.startswith("workload.")}
    for name, values in params.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ConfigError(f"sweep parameter {name} needs a non-empty list of values")
    points = []
    workloads = list(workloads)
    from eie_sim.workloads import workload_names

    for wl in workloads:  # the whole grid is validated before the first point runs
        if isinstance(wl, str) and wl not in workload_names():
            raise WorkloadError(f"unknown workload {wl!r}; allowed: {', '.join(workload_names())}")
    for arch in archs:
        fields = set(arch.to_dict())
        names = [k for k in cfg_params if k in fields]
        for combo in itertools.product(*(cfg_params[k] for k in names)):
            swept = dict(zip(names, combo, strict=True))
            machine = arch.replace(**swept)
            config = machine.to_dict()
            table = resolve_energy(machine, energy)  # "default": the machine's own table
            for wl in workloads:
                wl_names = list(wl_params) if isinstance(wl, dict) else []
                for wl_combo in itertools.product(*(wl_params[k] for k in wl_names)):
                    wl_swept = dict(zip(wl_names, wl_combo, strict=True))
                    workload = {**wl, **wl_swept} if isinstance(wl, dict) else wl
                    if isinstance(workload, dict):
                        from eie_sim.workloads import LayerSpec

                        spec = {**workload}
                        spec.setdefault("name", "synthetic")
                        LayerSpec(**spec)  # validate before any work starts
                    for seed in seeds:
                        coords = {**swept, **{f"workload.{k}": v for k, v in wl_swept.items()}}
                        points.append(Point(config=config, workload=workload, seed=seed,
                                            engine=engine, energy=table, swept=coords))
    return points


def _point_json(point: Point) -> dict[str, Any]:
    """The point as its cache entry stores it (JSON types)."""
    return json.loads(json.dumps(point.__dict__, sort_keys=True, default=str))


def _row_digest(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, allow_nan=False).encode()).hexdigest()


def _read_cached(path: Path, point: Point, key: str) -> dict[str, Any] | None:
    """The cached row of ``point``, None if there is none; a one-line error if the entry is
    corrupt or belongs to another point (copied or renamed from another key, edited, or
    written for another point): a cache entry is never trusted on its file name alone."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError:
        pass  # unreadable: reported as corrupt below
    try:
        data = json.loads(read_text_file(path, "cache entry", limit=MAX_CACHE_ENTRY_BYTES,
                                         error=EieSimError))
        if (not isinstance(data, dict) or data.get("cache_version") != CACHE_VERSION
                or not isinstance(data.get("row"), dict)):
            raise ValueError
    except (EieSimError, ValueError, RecursionError):
        raise EieSimError(f"cache entry {path} is corrupt; delete it (or the cache directory) "
                          "to recompute that point") from None
    row = data["row"]
    try:
        digest = _row_digest(row)
    except ValueError:  # NaN or infinity in the row
        digest = ""
    stored = data.get("point")
    if isinstance(stored, dict):
        stored = {k: v for k, v in stored.items() if k != "energy"}
    want = {k: v for k, v in _point_json(point).items() if k != "energy"}
    if data.get("key") != key or stored != want or data.get("row_sha256") != digest:
        raise EieSimError(f"cache entry {path} does not belong to this point (copied from "
                          "another point or edited); delete it (or the cache directory) to "
                          "recompute that point")
    return row


def worker_count(jobs: int | None, points: int) -> int:
    """Worker processes for ``points`` points: ``jobs`` (default: every core), capped at the
    number of points and of cores this process may run on."""
    cores = available_cores()
    return max(1, min(jobs or cores, cores, points))


def _worker_init(parent: int, max_memory: int) -> None:
    """Start of every pool worker: the parent's memory budget, and a watchdog that ends the
    worker when the parent process dies (even by SIGKILL), so no worker outlives a sweep."""
    import threading

    from eie_sim import limits

    limits.set_max_memory(max_memory)

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(0.25)
        os._exit(1)

    threading.Thread(target=watch, name="eie-sim-parent-watch", daemon=True).start()


def run_sweep(points: Sequence[Point], *, executor: Executor | None = None,
              cache_dir: str | Path | None = None, jobs: int | None = None,
              progress: bool | Callable[[int], None] = False) -> SweepResult:
    """Run ``points`` (see :func:`grid`) and return the table, in the points' order.

    Parameters
    ----------
    executor : concurrent.futures.Executor, optional
        Where points run (e.g. ``distributed.Client(...).get_executor()``). Default: a local
        process pool with ``jobs`` workers (default: all cores), capped at the points to
        compute and the cores (:func:`worker_count`); its workers end if this process dies;
        ``jobs=1`` runs in-process.
    cache_dir : path, optional
        Per-point cache; finished points are never recomputed.
    progress : bool or callable
        A tqdm bar on stderr, or a callable called with 1 each time a point finishes.
    """
    cache = Path(cache_dir) / "points" if cache_dir is not None else None
    if cache is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise EieSimError(f"cannot create cache directory {cache}: "
                              f"{err.strerror or err}") from None
        if not os.access(cache, os.W_OK):
            raise EieSimError(f"cache directory {cache} is not writable")
    rows: list[dict[str, Any] | None] = [None] * len(points)
    todo = []
    for i, point in enumerate(points):
        key = point.key()
        cached = _read_cached(cache / f"{key}.json", point, key) if cache is not None else None
        if cached is not None:
            rows[i] = cached
        else:
            todo.append(i)
    update, bar = _progress(progress, len(points), len(points) - len(todo))

    def finish(i: int, row: dict[str, Any]) -> None:
        rows[i] = row
        if cache is not None:
            key = points[i].key()
            entry = {"cache_version": CACHE_VERSION, "key": key, "point": _point_json(points[i]),
                     "row": row, "row_sha256": _row_digest(row)}
            write_atomic(cache / f"{key}.json", dumps(entry))
        if update is not None:
            update(1)

    try:
        if todo and executor is None and (jobs == 1 or len(todo) == 1):
            for chunk in _chunks(points, todo, 1):
                for i in chunk:
                    finish(i, run_point(points[i]))
        elif todo:
            own = executor is None
            pool = executor or ProcessPoolExecutor(
                max_workers=worker_count(jobs, len(todo)), initializer=_worker_init,
                initargs=(os.getpid(), max_memory()))
            try:
                chunks = _chunks(points, todo, worker_count(jobs, len(todo)))
                futures = {pool.submit(run_points, [points[i] for i in c]): c for c in chunks}
                for future in as_completed(futures):
                    for i, row in zip(futures[future], future.result(), strict=True):
                        finish(i, row)
            finally:
                if own:
                    pool.shutdown(cancel_futures=True)
    finally:
        if bar is not None:
            bar.close()
    machines = {config_hash(p.config): p.config for p in points}
    return SweepResult(rows=[r for r in rows if r is not None], computed=len(todo),
                       machines=machines)


def sweep(archs: ArchConfig | Sequence[ArchConfig], workloads: Iterable[str | dict],
          params: dict[str, Sequence[Any]] | None = None, *, seeds: Sequence[int | None] = (None,),
          engine: str = "fast", energy: str = "default", executor: Executor | None = None,
          cache_dir: str | Path | None = None, jobs: int | None = None,
          progress: bool | Callable[[int], None] = False) -> SweepResult:
    """Sweep a grid (see :func:`grid`) and return a :class:`SweepResult`.

    Example::

        table = sweep(EIEConfig(), ["alexnet-fc6", "alexnet-fc7"],
                      {"num_pes": [1, 2, 4, 8, 16, 32, 64, 128, 256],
                       "sram_capacity": ["unbounded"]})
        df = table.to_dataframe()
    """
    points = grid(archs, workloads, params, seeds=seeds, engine=engine, energy=energy)
    return run_sweep(points, executor=executor, cache_dir=cache_dir, jobs=jobs, progress=progress)


def _progress(progress, total: int, done: int):
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total, initial=done, unit="point", desc="sweep", dynamic_ncols=True)
    return bar.update, bar
