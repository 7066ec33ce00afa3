"""Plots of sweep tables: PNG + SVG, drawn with matplotlib's Agg canvas.

Every plot kind is a pair of functions:

* :func:`plot_data` turns a :class:`~eie_sim.sweep.SweepResult` into exactly the numbers that are
  drawn (panels, series, x, y and the table row behind every point), so tests and notebooks can
  check a plot against its table;
* :func:`plot` draws those numbers and writes ``<kind>.png`` and ``<kind>.svg`` atomically.

``PLOTS[kind](table, out_dir) -> [png, svg]`` is what ``eie-sim plot KIND --from DIR`` calls.

Kinds
-----
``pe-sweep``
    Speedup over the smallest PE count and load-balance efficiency vs the number of PEs.
``queue-depth``
    Load-balance efficiency and speedup over the shallowest queue vs the activation-queue depth.
    Sweep it with ``--queue-model counter``: with the default circular FIFO (which holds
    depth - 1 entries) a depth of 1 holds nothing and is refused.
``energy-vs-sparsity``
    Energy and latency vs the effective weight sparsity each machine runs (``1 -
    effective_weight_density``: EIE's unstructured density, the tensor core's N:M pattern,
    0 for dense machines), one axis for all machines.
``energy-breakdown``
    Energy by unit (dynamic + leakage), stacked bars, one bar per accelerator and workload.
``compare``
    Latency, energy and DRAM traffic, grouped bars: one group per workload, one bar per
    accelerator.
``roofline``
    Achieved GFLOP/s against arithmetic intensity (FLOP per DRAM byte), each point under its
    machine's roofline (peak compute, DRAM bandwidth); points with no DRAM traffic sit at the
    right edge.

Importing this module has no side effects: matplotlib is imported only when a figure is drawn,
figures are :class:`matplotlib.figure.Figure` objects on a ``FigureCanvasAgg`` (never pyplot), and
the global backend is left alone.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eie_sim.errors import EieSimError

DPI = 150
"""Resolution of the PNG files, dots per inch."""

FIGSIZE: dict[str, tuple[float, float]] = {
    "pe-sweep": (12.0, 5.0),
    "queue-depth": (12.0, 5.0),
    "energy-vs-sparsity": (12.0, 5.0),
    "energy-breakdown": (13.0, 6.0),
    "compare": (15.0, 5.5),
    "roofline": (9.0, 6.0),
}
"""Figure size of each kind, inches (width, height); the PNG is ``size * DPI`` pixels."""



def _arch_names() -> dict[str, str]:
    """Registered architecture -> its label (from the registry)."""
    from eie_sim import registry

    return {name: acc.label for name, acc in registry.ACCELERATORS.items()}


def _arch_colours() -> dict[str, str]:
    """Registered architecture -> its fixed colour (from the registry)."""
    from eie_sim import registry

    return {name: acc.colour for name, acc in registry.ACCELERATORS.items()}


def _arch_order() -> tuple[str, ...]:
    from eie_sim import registry

    return tuple(registry.ACCELERATORS)
NINE_LAYERS = ("alexnet-fc6", "alexnet-fc7", "alexnet-fc8", "vgg-fc6", "vgg-fc7", "vgg-fc8",
               "neuraltalk-we", "neuraltalk-wd", "neuraltalk-lstm")
POWERS_OF_TWO = "1,2,4,8,16,32,64,128,256"
MAX_BARS = 40  # bars in one bar chart before it stops being readable

_ID_COLUMNS = ("arch", "workload", "seed", "engine", "energy_table")
_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


# ----------------------------------------------------------------------------- sweep commands
def sweep_command(kind: str) -> str:
    """The ``eie-sim sweep`` command whose output directory the plot ``kind`` needs.

    Parameters
    ----------
    kind : str
        A key of :data:`PLOTS`.

    Returns
    -------
    str
        One command line, with ``DIR`` for the output directory.
    """
    present = list(_arch_order())
    nine = ",".join(NINE_LAYERS)
    commands = {
        "pe-sweep": f"eie-sim sweep --arch eie --workload {nine} --pes {POWERS_OF_TWO} "
                    "--sram-capacity unbounded --out DIR",
        # depth 1 holds nothing with the default circular FIFO (depth-1 entries): use 'counter'
        "queue-depth": f"eie-sim sweep --arch eie --workload {nine} "
                       f"--queue-depth {POWERS_OF_TWO} --queue-model counter --out DIR",
        "energy-vs-sparsity": "eie-sim sweep --arch " + ",".join(present)
                              + " --inputs 4096 --outputs 1024 --weight-density "
                              "0.05,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0 "
                              "--pattern 4:8,2:4,1:4,1:8 --activation-density 0.35 --out DIR",
        "energy-breakdown": "eie-sim sweep --arch " + ",".join(present)
                            + " --workload alexnet-fc6,alexnet-fc7,alexnet-fc8 --out DIR",
        "compare": "eie-sim sweep --arch " + ",".join(present)
                   + " --workload alexnet-fc6,alexnet-fc7,alexnet-fc8 --out DIR",
        "roofline": "eie-sim sweep --arch " + ",".join(present)
                    + " --preset a100 --batch 1,16,256 --workload alexnet-fc6,alexnet-fc7 "
                    "--out DIR",
    }
    return commands[kind]


def _need(kind: str, problem: str) -> EieSimError:
    return EieSimError(f"the {kind} plot needs {problem}; run: {sweep_command(kind)}")


# ----------------------------------------------------------------------------- table helpers
def _config_fields() -> set[str]:
    from eie_sim import registry

    return {f.name for acc in registry.ACCELERATORS.values()
            for f in dataclasses.fields(acc.config)}


def _coordinates(columns: Sequence[str]) -> list[str]:
    """The columns that say *which* point a row is (not what it measured)."""
    fields = _config_fields()
    return [c for c in columns if c in _ID_COLUMNS or c.startswith("workload.") or c in fields]


def _varying(rows: Sequence[dict], columns: Sequence[str]) -> list[str]:
    """Columns with more than one value among the rows of one architecture (a missing value does
    not count, nor does a setting that differs only between architectures, such as a clock)."""
    by_arch: dict[Any, list[dict]] = {}
    for r in rows:
        by_arch.setdefault(_hashable(r.get("arch")), []).append(r)
    out = []
    for c in columns:
        if c == "arch":
            if len(by_arch) > 1:
                out.append(c)
            continue
        for mine in by_arch.values():
            if len({_hashable(r.get(c)) for r in mine if r.get(c) is not None}) > 1:
                out.append(c)
                break
    return out


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _short(column: str) -> str:
    return column.removeprefix("workload.").replace("_", " ")


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(row: dict, column: str) -> float | None:
    value = row.get(column)
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _arch_rank(arch: Any) -> tuple[int, str]:
    order = _arch_order()
    return (order.index(arch) if arch in order else len(order), str(arch))


def _check_table(kind: str, table) -> list[dict]:
    rows = list(getattr(table, "rows", None) or [])
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise _need(kind, "a sweep table with at least one row")
    return rows


def _require_columns(kind: str, rows: list[dict], columns: Sequence[str]) -> None:
    present = {c for r in rows for c in r}
    missing = [c for c in columns if c not in present]
    if missing:
        raise _need(kind, f"the column(s) {', '.join(missing)}, which this sweep lacks")


def _series(rows: list[dict], x_column: str | None, *, split: Sequence[str] = (),
            axis: Sequence[str] = ()) -> list[dict]:
    """Group rows into series: one per combination of the varying coordinates except ``x``
    (and the coordinates in ``axis``, which the x-axis already shows).

    Returns a list of ``{"key": {col: value}, "rows": [row index, ...]}`` in order of first
    appearance, archs in registry order.
    """
    columns = list(dict.fromkeys(c for r in rows for c in r))
    coords = [c for c in _coordinates(columns) if c != x_column and c not in axis]
    keys = list(dict.fromkeys([*split, *_varying(rows, coords)]))
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(tuple(_hashable(row.get(k)) for k in keys), []).append(i)
    series = [{"key": dict(zip(keys, k, strict=True)), "rows": idx} for k, idx in groups.items()]
    order = {k: n for n, k in enumerate(groups)}
    series.sort(key=lambda s: (_arch_rank(s["key"].get("arch")),
                               order[tuple(_hashable(v) for v in s["key"].values())]))
    return series


def _label(key: dict, *, many_archs: bool, many_workloads: bool) -> str:
    parts = []
    if many_archs and "arch" in key:
        parts.append(_arch_names().get(key.get("arch"), str(key.get("arch"))))
    if many_workloads and "workload" in key:
        parts.append(str(key["workload"]))
    parts += [f"{_short(k)}={_fmt(v)}" for k, v in key.items()
              if k not in ("arch", "workload") and v is not None]
    return ", ".join(parts) or _arch_names().get(key.get("arch"), str(key.get("arch", "all")))


def _constants(rows: list[dict], skip: Sequence[str] = ()) -> str:
    """A subtitle: the settings that are the same for every row, and each machine's full label
    when an architecture ran as one machine throughout."""
    parts = []
    for column, fmt in (("num_pes", "{} PEs"), ("energy_table", "{} energy table"),
                        ("engine", "{} engine")):
        values = {_hashable(r.get(column)) for r in rows}
        if column not in skip and len(values) == 1 and None not in values:
            parts.append(fmt.format(_fmt(values.pop())))
    text = ", ".join(parts)
    one_table = len({r.get("energy_table") for r in rows}) == 1
    machines = []
    for arch in sorted(_distinct(rows, "arch"), key=_arch_rank):
        labels = {r.get("machine") for r in rows if r.get("arch") == arch}
        tables = {r.get("energy_table") for r in rows if r.get("arch") == arch}
        if len(labels) == 1 and None not in labels:
            table = "" if one_table or len(tables) != 1 else f" ({tables.pop()} energy table)"
            machines.append(labels.pop() + table)
    if machines:
        text = "\n".join(x for x in (text, *machines) if x)
    return text


def _distinct(rows: list[dict], column: str) -> list:
    return list(dict.fromkeys(r.get(column) for r in rows if r.get(column) is not None))


def _line_panels(kind: str, rows: list[dict], x_column: str, x_of: Callable[[float], float],
                 panels: list[dict], y_columns: Sequence[str],
                 axis: Sequence[str] = ()) -> list[dict]:
    """Fill ``panels`` (each with ``y_of(row, base_row) -> float``) with one series per group.

    Points whose x or y columns are missing are left out; ``base_row`` is the series' row at its
    smallest x (for speedups).
    """
    many_archs = len(_distinct(rows, "arch")) > 1
    many_workloads = len(_distinct(rows, "workload")) > 1
    legend = {(True, False): "accelerator", (False, True): "workload"}.get(
        (many_archs, many_workloads))
    for panel in panels:
        panel["legend"] = legend
    for group in _series(rows, x_column, split=("arch", "workload"), axis=axis):
        idx = [i for i in group["rows"]
               if _number(rows[i], x_column) is not None
               and all(_number(rows[i], c) is not None for c in y_columns)]
        if not idx:
            continue
        idx.sort(key=lambda i: _number(rows[i], x_column))
        base = rows[idx[0]]
        label = _label(group["key"], many_archs=many_archs, many_workloads=many_workloads)
        for panel in panels:
            panel["series"].append({
                "label": label,
                "arch": group["key"].get("arch"),
                "workload": group["key"].get("workload"),
                "x": [x_of(_number(rows[i], x_column)) for i in idx],
                "y": [panel["y_of"](rows[i], base) for i in idx],
                "rows": idx,
            })
    for panel in panels:
        del panel["y_of"]
        if panel.get("ylim") == "percent":  # zoom in on the data, 10 % steps, never below 0
            low = min((y for s in panel["series"] for y in s["y"]), default=0.0)
            panel["ylim"] = (max(0.0, 10.0 * math.floor(low / 10.0) - 10.0), 102.0)
    if not panels[0]["series"]:
        raise _need(kind, f"rows with numeric {x_column} and {', '.join(y_columns)}")
    return panels


# ----------------------------------------------------------------------------- plot data
def _pe_sweep_data(rows: list[dict]) -> dict:
    kind = "pe-sweep"
    _require_columns(kind, rows, ("num_pes", "cycles", "load_balance_efficiency"))
    pes = sorted({int(v) for r in rows if (v := _number(r, "num_pes")) is not None})
    if len(pes) < 2:
        raise _need(kind, f"a sweep over at least two PE counts (this one has {pes or 'none'})")
    panels = [
        {"key": "speedup", "title": "Speedup", "xlabel": "number of PEs",
         "ylabel": "speedup over the smallest PE count (×)", "xscale": "log2", "yscale": "log2",
         "y_of": lambda r, base: base["cycles"] / r["cycles"], "series": []},
        {"key": "load_balance", "title": "Load balance", "xlabel": "number of PEs",
         "ylabel": "load-balance efficiency (%)", "xscale": "log2", "yscale": "linear",
         "ylim": "percent",
         "y_of": lambda r, _: 100.0 * r["load_balance_efficiency"], "series": []},
    ]
    panels = _line_panels(kind, rows, "num_pes", int, panels, ("cycles",
                                                               "load_balance_efficiency"))
    # speedup is relative to each series' own smallest PE count: the ideal line starts there
    panels[0]["reference"] = {"label": "ideal (linear)", "x": pes,
                              "y": [p / pes[0] for p in pes]}
    return {"title": "Speedup and load-balance efficiency vs number of PEs",
            "subtitle": _constants(rows, skip=("num_pes",)), "panels": panels}


def _queue_depth_data(rows: list[dict]) -> dict:
    kind = "queue-depth"
    if not any("act_queue_depth" in r for r in rows):
        raise _need(kind, "a sweep over --queue-depth (the table has no act_queue_depth column)")
    _require_columns(kind, rows, ("cycles", "load_balance_efficiency"))
    depths = sorted({int(v) for r in rows if (v := _number(r, "act_queue_depth")) is not None})
    if len(depths) < 2:
        raise _need(kind, f"a sweep over at least two queue depths (this one has {depths})")
    panels = [
        {"key": "load_balance", "title": "Load balance", "xlabel": "activation-queue depth "
         "(entries per PE)", "ylabel": "load-balance efficiency (%)", "xscale": "log2",
         "yscale": "linear", "ylim": "percent",
         "y_of": lambda r, _: 100.0 * r["load_balance_efficiency"], "series": []},
        {"key": "speedup", "title": "Speedup", "xlabel": "activation-queue depth "
         "(entries per PE)", "ylabel": "speedup over the shallowest queue (×)", "xscale": "log2",
         "yscale": "linear", "y_of": lambda r, base: base["cycles"] / r["cycles"], "series": []},
    ]
    panels = _line_panels(kind, rows, "act_queue_depth", int, panels,
                          ("cycles", "load_balance_efficiency"))
    return {"title": "Load-balance efficiency vs activation-queue depth",
            "subtitle": _constants(rows), "panels": panels}


def _energy_vs_sparsity_data(rows: list[dict]) -> dict:
    """Energy and latency against the *effective* weight sparsity each machine runs
    (``effective_weight_density``: EIE's unstructured density, the tensor core's N:M pattern,
    1 for dense machines), on one axis; the swept nominal density and pattern are the x-axis,
    not separate series."""
    kind = "energy-vs-sparsity"
    column = "effective_weight_density"
    swept = [c for c in ("workload.weight_density", "pattern")
             if len({_hashable(r.get(c)) for r in rows if r.get(c) is not None}) > 1]
    if not swept:
        raise _need(kind, "a synthetic-layer sweep over --weight-density (and --pattern for the "
                          "tensor cores): this table sweeps neither")
    _require_columns(kind, rows, (column, "energy_pj", "time_us"))
    xlabel = "effective weight sparsity (%)"
    panels = [
        {"key": "energy", "title": "Energy", "xlabel": xlabel,
         "ylabel": "energy per inference (µJ)", "xscale": "linear", "yscale": "log",
         "y_of": lambda r, _: r["energy_pj"] / 1e6, "series": []},
        {"key": "time", "title": "Latency", "xlabel": xlabel,
         "ylabel": "latency (µs)", "xscale": "linear", "yscale": "log",
         "y_of": lambda r, _: r["time_us"], "series": []},
    ]
    panels = _line_panels(kind, rows, column, lambda d: 100.0 * (1.0 - d), panels,
                          ("energy_pj", "time_us"), axis=("workload.weight_density", "pattern"))
    for panel in panels:  # x is sparsity: the densest point first -> sort by sparsity
        for s in panel["series"]:
            order = sorted(range(len(s["x"])), key=lambda k, s=s: s["x"][k])
            for name in ("x", "y", "rows"):
                s[name] = [s[name][k] for k in order]
    # A machine that runs the same slots for several nominal densities (a tensor core at one
    # N:M pattern, a dense machine) gives identical points: draw each once.
    for i in range(len(panels[0]["series"])):
        series = [panel["series"][i] for panel in panels]
        seen, keep = set(), []
        for k in range(len(series[0]["x"])):
            point = tuple((s["x"][k], s["y"][k]) for s in series)
            if point not in seen:
                seen.add(point)
                keep.append(k)
        for s in series:
            for name in ("x", "y", "rows"):
                s[name] = [s[name][k] for k in keep]
    # Name the N:M pattern of each tensor-core point (two patterns can share a sparsity).
    for panel in panels:
        for s in panel["series"]:
            patterns = [rows[i].get("pattern") for i in s["rows"]]
            if any(p is not None for p in patterns) and len(set(patterns)) > 1:
                s["point_labels"] = [p or "" for p in patterns]
    workloads = ", ".join(map(str, _distinct(rows, "workload")))
    return {"title": f"Energy vs effective weight sparsity on {workloads}",
            "subtitle": _constants(rows), "panels": panels}


def _bars(kind: str, rows: list[dict]) -> tuple[list[dict], list[str], list[dict]]:
    """Bar layout shared by the bar charts: groups = workloads, bars = the other coordinates.

    Returns (groups, bar labels, bars) where each bar is ``{"row", "group", "label", "arch"}``.
    """
    if len(rows) > MAX_BARS:
        raise _need(kind, f"at most {MAX_BARS} points for a bar chart (this sweep has "
                          f"{len(rows)}; sweep fewer values)")
    bars = []
    for group in _series(rows, "workload", split=("arch",)):
        key = {k: v for k, v in group["key"].items() if k != "workload"}
        label = _label(key, many_archs=True, many_workloads=False)
        for i in group["rows"]:
            bars.append({"row": i, "group": str(rows[i].get("workload")), "label": label,
                         "arch": rows[i].get("arch")})
    groups = list(dict.fromkeys(str(r.get("workload")) for r in rows))
    labels = list(dict.fromkeys(b["label"] for b in bars))
    bars.sort(key=lambda b: (groups.index(b["group"]), labels.index(b["label"]), b["row"]))
    return [{"name": g} for g in groups], labels, bars


def _energy_breakdown_data(rows: list[dict]) -> dict:
    kind = "energy-breakdown"
    units = sorted({c.removeprefix("energy_pj.") for r in rows for c in r
                    if c.startswith("energy_pj.")})
    if not units:
        raise _need(kind, "per-unit energy columns energy_pj.<unit>, which this sweep lacks")
    rows_e = [r for r in rows if _number(r, "energy_pj") is not None]
    if not rows_e:
        raise _need(kind, "rows with an energy_pj value")
    index = [i for i, r in enumerate(rows) if _number(r, "energy_pj") is not None]
    _, labels, bars = _bars(kind, rows_e)
    for b in bars:
        b["row"] = index[b["row"]]
    categories = [f"{b['label']}\n{b['group']}" for b in bars]
    totals = {u: sum(_number(rows[b["row"]], f"energy_pj.{u}") or 0.0 for b in bars)
              for u in units}
    units = [u for u in sorted(units, key=lambda u: -totals[u]) if totals[u] > 0]
    absolute = {"key": "energy", "title": "Energy by unit", "xlabel": "accelerator and workload",
                "ylabel": "energy per inference (µJ)", "xscale": "category", "yscale": "linear",
                "stacked": True, "series": []}
    share = {"key": "share", "title": "Share of energy by unit",
             "xlabel": "accelerator and workload", "ylabel": "share of energy (%)",
             "xscale": "category", "yscale": "linear", "stacked": True, "ylim": (0, 100),
             "series": []}
    rows_idx = [b["row"] for b in bars]
    for u in units:
        pj = [_number(rows[i], f"energy_pj.{u}") or 0.0 for i in rows_idx]
        absolute["series"].append({"label": u, "x": categories, "y": [v / 1e6 for v in pj],
                                   "rows": rows_idx})
        share["series"].append({"label": u, "x": categories,
                                "y": [100.0 * v / rows[i]["energy_pj"] if rows[i]["energy_pj"]
                                      else 0.0 for v, i in zip(pj, rows_idx, strict=True)],
                                "rows": rows_idx})
    absolute["totals"] = [rows[i]["energy_pj"] / 1e6 for i in rows_idx]
    return {"title": "Energy breakdown by unit (dynamic + leakage)",
            "subtitle": _constants(rows_e), "panels": [absolute, share],
            "bar_labels": labels}


def _compare_data(rows: list[dict]) -> dict:
    kind = "compare"
    _require_columns(kind, rows, ("time_us", "energy_pj", "dram_read_bytes"))
    groups, labels, bars = _bars(kind, rows)
    names = [g["name"] for g in groups]
    metrics = [
        ("time", "Latency", "latency (µs)", "log", lambda r: r["time_us"]),
        ("energy", "Energy", "energy per inference (µJ)", "log", lambda r: r["energy_pj"] / 1e6),
        ("dram", "DRAM traffic", "DRAM traffic, read + write (MB)", "linear",
         lambda r: ((_number(r, "dram_read_bytes") or 0.0)
                    + (_number(r, "dram_write_bytes") or 0.0)) / 1e6),
    ]
    panels = []
    for key, title, ylabel, yscale, value in metrics:
        series = []
        for label in labels:
            mine = [b for b in bars if b["label"] == label
                    and _number(rows[b["row"]], "time_us") is not None
                    and _number(rows[b["row"]], "energy_pj") is not None]
            series.append({"label": label, "arch": mine[0]["arch"] if mine else None,
                           "x": [b["group"] for b in mine],
                           "y": [value(rows[b["row"]]) for b in mine],
                           "rows": [b["row"] for b in mine]})
        panels.append({"key": key, "title": title, "xlabel": "workload", "ylabel": ylabel,
                       "xscale": "category", "yscale": yscale, "categories": names,
                       "series": [s for s in series if s["rows"]]})
    if not panels[0]["series"]:
        raise _need(kind, "rows with time_us and energy_pj values")
    archs = [_arch_names().get(a, str(a)) for a in sorted(_distinct(rows, "arch"), key=_arch_rank)]
    return {"title": f"{' vs '.join(archs)}: latency, energy and DRAM traffic",
            "subtitle": _constants(rows), "panels": panels}


def _roofline_data(rows: list[dict]) -> dict:
    """One point per row: (FLOP per DRAM byte, achieved GFLOP/s); one roofline per machine."""
    kind = "roofline"
    _require_columns(kind, rows, ("macs", "time_us", "peak_gflops", "dram_bandwidth_gbps"))
    points = []
    for i, r in enumerate(rows):
        macs, t = _number(r, "macs"), _number(r, "time_us")
        if macs is None or not t:
            continue
        dram = (_number(r, "dram_read_bytes") or 0.0) + (_number(r, "dram_write_bytes") or 0.0)
        points.append({"row": i, "arch": r.get("arch"), "machine": r.get("machine"),
                       "workload": r.get("workload"),
                       "intensity": 2 * macs / dram if dram else None,
                       "gflops": 2 * macs / t / 1e3})
    if not points:
        raise _need(kind, "rows with MACs and time")
    finite = [p["intensity"] for p in points if p["intensity"] is not None]
    edge = 10 ** math.ceil(math.log10(max(finite, default=10.0) * 10))
    for p in points:
        p["x"] = p["intensity"] if p["intensity"] is not None else edge
        p["on_chip"] = p["intensity"] is None
    roofs: dict[tuple[float, float], dict] = {}  # one per distinct (peak, bandwidth)
    for r in sorted(rows, key=lambda r: _arch_rank(r.get("arch"))):
        peak, bw = _number(r, "peak_gflops"), _number(r, "dram_bandwidth_gbps")
        if peak and bw:
            roof = roofs.setdefault((peak, bw), {"arch": r.get("arch"), "peak_gflops": peak,
                                                 "dram_gbps": bw, "archs": []})
            name = _arch_names().get(r.get("arch"), str(r.get("arch")))
            if name not in roof["archs"]:
                roof["archs"].append(name)
    for roof in roofs.values():
        peak = roof["peak_gflops"]
        rate = f"{peak / 1e3:.0f} TFLOP/s" if peak >= 1e3 else f"{peak:.1f} GFLOP/s"
        roof["label"] = f"roof of {', '.join(roof['archs'])}: {rate}, {roof['dram_gbps']:g} GB/s"
    series = []
    for arch in sorted(_distinct(rows, "arch"), key=_arch_rank):
        mine = [p for p in points if p["arch"] == arch]
        if mine:
            series.append({"label": _arch_names().get(arch, str(arch)), "arch": arch,
                           "x": [p["x"] for p in mine], "y": [p["gflops"] for p in mine],
                           "rows": [p["row"] for p in mine],
                           "on_chip": [p["on_chip"] for p in mine]})
    panel = {"key": "roofline", "title": "Roofline", "xscale": "log", "yscale": "log",
             "xlabel": "arithmetic intensity (FLOP per DRAM byte)",
             "ylabel": "achieved throughput (GFLOP/s)", "series": series,
             "roofs": list(roofs.values()), "edge": edge}
    return {"title": "Achieved throughput against arithmetic intensity",
            "subtitle": _constants(rows), "panels": [panel]}


_DATA: dict[str, Callable[[list[dict]], dict]] = {
    "pe-sweep": _pe_sweep_data,
    "queue-depth": _queue_depth_data,
    "energy-vs-sparsity": _energy_vs_sparsity_data,
    "energy-breakdown": _energy_breakdown_data,
    "compare": _compare_data,
    "roofline": _roofline_data,
}


def plot_data(kind: str, table) -> dict:
    """The numbers a plot draws, taken from the sweep table.

    Parameters
    ----------
    kind : str
        A key of :data:`PLOTS`.
    table : SweepResult
        A sweep table (``SweepResult.load(dir)`` or the return value of ``sweep``).

    Returns
    -------
    dict
        ``{"kind", "title", "subtitle", "panels": [...]}``; each panel has ``key``, ``title``,
        ``xlabel``, ``ylabel`` (with units), ``xscale`` ("log2", "linear" or "category"),
        ``yscale`` and ``series``: ``[{"label", "x", "y", "rows"}]`` where ``rows[k]`` is the
        index in ``table.rows`` of the point ``(x[k], y[k])``. Units: speedup ×, load-balance
        efficiency %, energy µJ, latency µs, DRAM traffic MB (10^6 bytes), sparsity %.

    Raises
    ------
    EieSimError
        Unknown kind, or the table lacks what the plot needs (the message names the
        ``eie-sim sweep`` command that makes a suitable table).
    """
    if kind not in _DATA:
        raise EieSimError(f"unknown plot {kind!r}; allowed: {', '.join(_DATA)}")
    rows = _check_table(kind, table)
    # Points a sweep could not run (status 'infeasible') are skipped, and the figure says so.
    keep = [i for i, r in enumerate(rows) if r.get("status", "ok") == "ok"]
    if not keep:
        raise _need(kind, f"at least one feasible point (all {len(rows)} are infeasible: "
                          f"{rows[0].get('error', '')})")
    data = _DATA[kind]([rows[i] for i in keep])
    if len(keep) < len(rows):
        for panel in data["panels"]:
            for series in panel["series"]:
                series["rows"] = [keep[i] for i in series["rows"]]
        skipped = len(rows) - len(keep)
        note = f"{skipped} infeasible point{'s' if skipped > 1 else ''} not shown"
        data["subtitle"] = "; ".join(x for x in (data.get("subtitle"), note) if x)
        data["skipped"] = [i for i in range(len(rows)) if i not in set(keep)]
    return {"kind": kind, **data}


# ----------------------------------------------------------------------------- drawing
def _style(series: list[dict], many_workloads: bool) -> list[dict]:
    """Colour, line style and marker of each series: colour by workload when there are several
    (linestyle and marker by arch), else by arch (linestyle by the other coordinates)."""
    from matplotlib import colormaps

    tab = colormaps["tab10"].colors
    archs = list(dict.fromkeys(s.get("arch") for s in series))
    workloads = list(dict.fromkeys(s.get("workload") for s in series))
    styles, seen = [], {}
    for s in series:
        a = archs.index(s.get("arch"))
        if many_workloads:
            color = tab[workloads.index(s.get("workload")) % len(tab)]
            ls, marker = _LINESTYLES[a % len(_LINESTYLES)], _MARKERS[a % len(_MARKERS)]
        else:
            color = _arch_colours().get(s.get("arch"), tab[(4 + a) % len(tab)])
            n = seen.setdefault(s.get("arch"), 0)
            seen[s.get("arch")] = n + 1
            ls, marker = _LINESTYLES[n % len(_LINESTYLES)], _MARKERS[(a + n) % len(_MARKERS)]
        styles.append({"color": color, "linestyle": ls, "marker": marker})
    return styles


_HATCHES = ("", "//", "..", "xx", "\\\\", "++")


def _log2_axis(ax, values: Sequence[float]) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log", base=2)
    ticks = sorted(set(values))
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([_fmt(t) for t in ticks])


def _log_y(ax, base: int) -> None:
    """A log y axis labelled with plain numbers (1, 2, 5, 10, ... or 1, 2, 4, 8, ...)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log", base=base)
    ax.yaxis.set_major_locator(LogLocator(base=base, subs=(1.0, 2.0, 5.0) if base == 10
                                          else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _number_text(v)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _number_text(v: float) -> str:
    """Short tick and bar text: 0.5, 12.3, 1,234, 12,345."""
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _draw_lines(fig, data: dict) -> None:
    panels = data["panels"]
    axes = fig.subplots(1, len(panels))
    many_workloads = len({s.get("workload") for s in panels[0]["series"]}) > 1
    handles: dict[str, Any] = {}
    for ax, panel in zip(axes, panels, strict=True):
        styles = _style(panel["series"], many_workloads)
        for s, st in zip(panel["series"], styles, strict=True):
            (line,) = ax.plot(s["x"], s["y"], label=s["label"], linewidth=1.6, markersize=4.5,
                              **st)
            handles.setdefault(s["label"], line)
            placed: list[tuple[float, float]] = []
            for x, y, text in zip(s["x"], s["y"], s.get("point_labels") or (), strict=False):
                # Labels of points that (nearly) coincide are stacked, not overprinted.
                ly = math.log10(y) if y > 0 else 0.0
                n = sum(abs(x - px) < 3.0 and abs(ly - py) < 0.15 for px, py in placed)
                placed.append((x, ly))
                ax.annotate(text, (x, y), xytext=(5, 3 - 8 * n), textcoords="offset points",
                            fontsize="x-small", color=line.get_color())
        ref = panel.get("reference")
        if ref:
            (line,) = ax.plot(ref["x"], ref["y"], color="0.5", linestyle="--", linewidth=1.0,
                              label=ref["label"])
            handles.setdefault(ref["label"], line)
        if panel["xscale"] == "log2":
            _log2_axis(ax, [x for s in panel["series"] for x in s["x"]])
        if panel["yscale"] in ("log", "log2"):
            _log_y(ax, 2 if panel["yscale"] == "log2" else 10)
        _finish_axis(ax, panel, grid_axis="both")
    _legend(fig, handles, panels[0].get("legend"))


def _finish_axis(ax, panel: dict, *, grid_axis: str) -> None:
    """Limits, title, axis labels (with units) and grid of one panel."""
    if "ylim" in panel:
        ax.set_ylim(*panel["ylim"])
    ax.set_title(panel["title"])
    ax.set_xlabel(panel["xlabel"])
    ax.set_ylabel(panel["ylabel"])
    ax.grid(True, axis=grid_axis, which="major", alpha=0.3)


def _legend(fig, handles: dict, title: str | None) -> None:
    """One legend for the figure, outside the panels on the right."""
    fig.legend(list(handles.values()), list(handles), loc="outside right upper",
               fontsize="small", title=title, title_fontsize="small")


def _draw_breakdown(fig, data: dict) -> None:
    from matplotlib import colormaps

    panels = data["panels"]
    axes = fig.subplots(1, 2)
    colors = colormaps["tab20"].colors[0::2] + colormaps["tab20"].colors[1::2]
    handles = {}
    for ax, panel in zip(axes, panels, strict=True):
        n = len(panel["series"][0]["x"]) if panel["series"] else 0
        bottom = [0.0] * n
        for k, s in enumerate(panel["series"]):
            bars = ax.bar(range(n), s["y"], bottom=bottom, color=colors[k % len(colors)],
                          label=s["label"], width=0.7, edgecolor="white", linewidth=0.4)
            handles.setdefault(s["label"], bars)
            bottom = [b + y for b, y in zip(bottom, s["y"], strict=True)]
        if "totals" in panel:
            for x, total in enumerate(panel["totals"]):
                ax.annotate(_number_text(total), (x, total), ha="center", va="bottom",
                            fontsize="x-small", xytext=(0, 2), textcoords="offset points")
            ax.margins(y=0.08)
        ax.set_xticks(range(n))
        ax.set_xticklabels(panel["series"][0]["x"] if panel["series"] else [],
                           fontsize="x-small", rotation=60 if n > 6 else 0,
                           ha="right" if n > 6 else "center")
        _finish_axis(ax, panel, grid_axis="y")
    _legend(fig, handles, "unit")


def _draw_grouped(fig, data: dict) -> None:
    panels = data["panels"]
    axes = fig.subplots(1, len(panels))
    handles = {}
    for ax, panel in zip(axes, panels, strict=True):
        cats = panel["categories"]
        series = panel["series"]
        width = 0.8 / max(1, len(series))
        styles = _style(series, False)
        for k, (s, st) in enumerate(zip(series, styles, strict=True)):
            xs = [cats.index(x) - 0.4 + width * (k + 0.5) for x in s["x"]]
            ys = s["y"]
            if panel["yscale"] == "log":  # a zero has no place on a log axis: leave it out
                xs = [x for x, y in zip(xs, ys, strict=True) if y > 0]
                ys = [y for y in ys if y > 0]
            hatch = _HATCHES[_LINESTYLES.index(st["linestyle"]) % len(_HATCHES)]
            bars = ax.bar(xs, ys, width=width, color=st["color"], label=s["label"],
                          hatch=hatch or None, edgecolor="white", linewidth=0.4)
            ax.bar_label(bars, labels=[_number_text(y) for y in ys], fontsize="x-small",
                         padding=1)
            handles.setdefault(s["label"], bars)
        if panel["yscale"] == "log":
            _log_y(ax, 10)
        ax.margins(y=0.12)
        ax.set_xticks(range(len(cats)))
        ax.set_xticklabels(cats, fontsize="small", rotation=30 if len(cats) > 4 else 0,
                           ha="right" if len(cats) > 4 else "center")
        _finish_axis(ax, panel, grid_axis="y")
    _legend(fig, handles, "accelerator")


def _draw_roofline(fig, data: dict) -> None:
    import numpy as np

    (panel,) = data["panels"]
    ax = fig.subplots(1, 1)
    colours = _arch_colours()
    handles: dict[str, Any] = {}
    xs = [x for s in panel["series"] for x in s["x"]]
    lo = 10 ** math.floor(math.log10(min(xs) / 10)) if xs else 0.1
    grid = np.logspace(math.log10(lo), math.log10(panel["edge"]), 200)
    for k, roof in enumerate(panel["roofs"]):
        y = np.minimum(roof["peak_gflops"], grid * roof["dram_gbps"])
        style = _LINESTYLES[k % len(_LINESTYLES)]
        (line,) = ax.plot(grid, y, linestyle=style, linewidth=1.0, color="0.45")
        handles.setdefault(roof["label"], line)
    for k, s in enumerate(panel["series"]):
        colour = colours.get(s["arch"], "0.3")
        marker = _MARKERS[k % len(_MARKERS)]
        for x, y, on_chip in zip(s["x"], s["y"], s["on_chip"], strict=True):
            line = ax.scatter([x], [y], color=colour, marker=marker, s=28, zorder=3,
                              facecolors="none" if on_chip else colour)
        handles.setdefault(s["label"], line)
    if any(on for s in panel["series"] for on in s["on_chip"]):
        ax.axvline(panel["edge"], color="0.6", linewidth=0.8, linestyle=":")
        ax.annotate("no DRAM traffic\n(weights on chip)", (panel["edge"], 1), xycoords=(
            "data", "axes fraction"), xytext=(-4, -4), textcoords="offset points", ha="right",
            va="top", fontsize="x-small", color="0.35")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _finish_axis(ax, panel, grid_axis="both")
    ax.legend(list(handles.values()), list(handles), loc="lower right", fontsize="x-small")


_DRAW = {"pe-sweep": _draw_lines, "queue-depth": _draw_lines, "energy-vs-sparsity": _draw_lines,
         "energy-breakdown": _draw_breakdown, "compare": _draw_grouped,
         "roofline": _draw_roofline}


def figure(kind: str, table):
    """Draw a plot into a new figure (not written anywhere).

    Parameters
    ----------
    kind : str
        A key of :data:`PLOTS`.
    table : SweepResult
        The sweep table.

    Returns
    -------
    fig : matplotlib.figure.Figure
        On a ``FigureCanvasAgg``; ``FIGSIZE[kind]`` inches.
    data : dict
        What was drawn (see :func:`plot_data`).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = plot_data(kind, table)
    fig = Figure(figsize=FIGSIZE[kind], dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    _DRAW[kind](fig, data)
    title = data["title"] + (f"\n{data['subtitle']}" if data.get("subtitle") else "")
    fig.suptitle(title, fontsize="large")
    return fig, data


def plot(kind: str, table, out_dir: str | Path) -> list[Path]:
    """Draw a plot and write ``<kind>.png`` and ``<kind>.svg`` into ``out_dir``.

    Both files are written to temporary files in ``out_dir`` first and then renamed, so a failure
    leaves no half-written image (an existing one is kept). The directory is created if needed,
    but only once the table is known to hold what the plot needs.

    Parameters
    ----------
    kind : str
        A key of :data:`PLOTS`.
    table : SweepResult
        The sweep table.
    out_dir : str or Path
        Output directory.

    Returns
    -------
    list of Path
        ``[png, svg]``. The PNG is ``FIGSIZE[kind] * DPI`` pixels.

    Raises
    ------
    EieSimError
        The table lacks what the plot needs, or the files cannot be written.
    """
    import matplotlib

    fig, _ = figure(kind, table)
    out = Path(out_dir)
    try:
        if out.exists() and not out.is_dir():
            raise EieSimError(f"plot output {out} is a file; allowed: a directory")
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EieSimError(f"cannot create plot directory {out}: {err.strerror or err}") from None
    paths = [out / f"{kind}.png", out / f"{kind}.svg"]
    tmps: list[str] = []
    try:
        for path in paths:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=out)
            tmps.append(tmp)
            fmt = path.suffix[1:]
            # fixed ids and no date: the same table gives byte-identical SVG files
            with os.fdopen(fd, "wb") as fh, matplotlib.rc_context({"svg.hashsalt": "eie-sim"}):
                fig.savefig(fh, format=fmt, dpi=DPI,
                            metadata={"Date": None} if fmt == "svg" else None)
            os.chmod(tmp, 0o666 & ~_umask())
        for tmp, path in zip(tmps, paths, strict=True):
            os.replace(tmp, path)
        tmps = []
    except OSError as err:
        raise EieSimError(f"cannot write plot into {out}: {err.strerror or err}") from None
    finally:
        for tmp in tmps:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return paths


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _plotter(kind: str) -> Callable[[Any, str | Path], list[Path]]:
    def run(table, out_dir: str | Path) -> list[Path]:
        return plot(kind, table, out_dir)

    run.__name__ = "plot_" + kind.replace("-", "_")
    run.__doc__ = f"Write {kind}.png and {kind}.svg into ``out_dir`` (see :func:`plot`)."
    return run


PLOTS: dict[str, Callable[[Any, str | Path], list[Path]]] = {kind: _plotter(kind) for kind in _DATA}
"""``kind -> function(table, out_dir) -> [png, svg]``; used by ``eie-sim plot KIND``."""
