"""Plots of sweep tables, styled for papers: PNG, SVG and PDF, drawn with matplotlib's Agg canvas.

Every plot kind is a pair of functions:

* :func:`plot_data` turns a :class:`~eie_sim.sweep.SweepResult` into exactly the numbers that are
  drawn (panels, series, x, y and the table row behind every point), so tests and notebooks can
  check a plot against its table;
* :func:`plot` draws those numbers and writes ``<kind>.png``, ``<kind>.svg`` and ``<kind>.pdf``
  atomically.

``PLOTS[kind](table, out_dir, size="page") -> [png, svg, pdf]`` is what
``eie-sim plot KIND --from DIR [--size column|page]`` calls.

The style (see docs/OUTPUTS.md)
-----------------------------
* **Sizes** for a two-column paper: ``size="column"`` is 3.5 in wide (one column; panels stacked
  vertically), ``size="page"`` 7 in (the full text width; panels side by side). Text is 7 pt
  (column) or 8 pt (page) at the printed size, so a figure is placed at 100 % without scaling.
  :data:`FIGSIZE` holds every (size, kind) in inches; the PNG is ``FIGSIZE * DPI`` pixels.
* **Editable text**: SVG text stays ``<text>`` (``svg.fonttype: none``) and PDF fonts are embedded
  as TrueType (``pdf.fonttype: 42``), so a figure's words can be edited in Inkscape or
  Illustrator. Files are deterministic (no dates, fixed ids): the same table gives the same bytes.
* **Fixed colours**: a machine has its colour from the registry (Okabe-Ito) in every figure; an
  energy unit has the colour of :data:`UNIT_COLOURS` (Paul Tol's colour-blind-safe palettes) in
  every figure, whichever units a figure shows (:func:`unit_colour`); a named workload has a fixed
  colour when workloads are the series.
* **Log axes** where the values of a panel span more than :data:`LOG_SPAN` (20x); a panel whose
  values are all zero says so instead of drawing a meaningless axis.
* **Labels that do not overlap**: a bar's value is written horizontally where it fits, turned
  90 degrees where it fits that way, and left out where the bars are too narrow (the numbers are
  in ``sweep.csv``); tick labels are turned only when, measured, they would not fit side by side;
  a panel's note is wrapped to the panel.
* **Titles** say what the figure shows; the settings shared by every point (and each machine's
  full label) are a small note under the figure; a note names an energy table only on a figure
  that shows energy.

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
    Energy per inference per machine and workload, and each unit's share of it (stacked bars;
    units below :data:`MINOR_SHARE` of every bar are drawn as one "other units" segment).
``compare``
    Latency, energy and DRAM traffic, grouped bars: one group per workload, one bar per
    accelerator.
``roofline``
    Achieved GFLOP/s against arithmetic intensity (FLOP per DRAM byte), each point under its
    machine's roofline (peak compute, DRAM bandwidth); points with no DRAM traffic sit at the
    right edge.
``ese-throughput``
    ESE on an LSTM: sparse and dense-equivalent throughput (GOP/s) vs PEs per channel, beside
    the ESE paper's 282 GOP/s and 2.52 TOP/s (32 channels x 32 PEs, 200 MHz).

Importing this module has no side effects: matplotlib is imported only when a figure is drawn,
figures are :class:`matplotlib.figure.Figure` objects on a ``FigureCanvasAgg`` (never pyplot), and
the global backend and rcParams are left alone (the style is applied in an ``rc_context``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import textwrap
import zlib
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from eie_sim.errors import EieSimError

DPI = 300
"""Resolution of the PNG files, dots per inch (print resolution)."""

SIZES = ("column", "page")
"""Figure sizes: one column of a two-column paper (3.5 in) or the full text width (7 in)."""

WIDTH = {"column": 3.5, "page": 7.0}
"""Figure width of each size, inches."""

FONT_PT = {"column": 7.0, "page": 8.0}
"""Base font size of each size, points at the printed size."""

FORMATS = ("png", "svg", "pdf")
"""The files :func:`plot` writes, in this order."""

_HEIGHT = {  # inches: (column, page); column stacks the panels vertically
    "pe-sweep": (4.2, 2.9),
    "queue-depth": (4.2, 2.9),
    "energy-vs-sparsity": (4.4, 3.0),
    "energy-breakdown": (5.6, 3.6),
    "compare": (6.0, 3.0),
    "roofline": (3.6, 3.6),
    "ese-throughput": (4.2, 2.9),
}

FIGSIZE: dict[str, dict[str, tuple[float, float]]] = {
    size: {kind: (WIDTH[size], h[i]) for kind, h in _HEIGHT.items()}
    for i, size in enumerate(SIZES)
}
"""``FIGSIZE[size][kind]``: figure size, inches (width, height)."""

LOG_SPAN = 20.0
"""A panel's y axis is logarithmic when its largest positive value exceeds this many times its
smallest."""

MINOR_SHARE = 0.02
"""Energy-breakdown units below this share of every bar are drawn as one "other units" segment."""

OTHER_UNITS = "other units"

UNIT_COLOURS: dict[str, str] = {
    # off chip and GPU-wide
    "dram": "#332288", "sm": "#BBBBBB",
    # tensor core
    "tc": "#CC6677", "smem": "#88CCEE", "weight_sram": "#117733", "rf.accumulator": "#DDCC77",
    "epilogue": "#AA4499",
    # PE arrays (EIE, dense baseline)
    "pe.spmat_sram": "#44AA99", "pe.weight_sram": "#999933", "pe.ptr_sram": "#77AADD",
    "pe.arith": "#882255", "pe.weight_decoder": "#EE8866", "pe.dest_regfile": "#EEDD88",
    "pe.src_regfile": "#FFAABB", "pe.act_queue": "#99DDFF", "pe.act_sram": "#BBCC33",
    "ccu": "#AAAA00", "lnzd": "#44BB99",
    OTHER_UNITS: "#DDDDDD",
}
"""Energy unit -> its colour in every figure (Paul Tol's muted and light palettes, chosen to be
told apart with colour-vision deficiencies). Units not listed get a colour from their name
(:func:`unit_colour`), also the same in every figure."""

_FALLBACK = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB",
             "#0077BB", "#33BBEE", "#009988", "#EE7733", "#CC3311", "#EE3377")

_WORKLOAD_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                     "#F0E442", "#000000", "#999999")
"""Okabe-Ito, for series that are workloads (one machine)."""


def unit_colour(unit: str) -> str:
    """The fixed colour of an energy unit (hex), the same in every figure."""
    if unit in UNIT_COLOURS:
        return UNIT_COLOURS[unit]
    return _FALLBACK[zlib.crc32(unit.encode()) % len(_FALLBACK)]


def workload_colour(workload: Any) -> str:
    """The fixed colour of a workload when a figure's series are workloads."""
    from eie_sim.workloads import workload_names

    names = workload_names()
    if workload in names:
        return _WORKLOAD_COLOURS[names.index(workload) % len(_WORKLOAD_COLOURS)]
    return _WORKLOAD_COLOURS[zlib.crc32(str(workload).encode()) % len(_WORKLOAD_COLOURS)]


def machine_colour(arch: Any) -> str:
    """The fixed colour of an architecture (from its registry record)."""
    return _arch_colours().get(arch, "#555555")


def style(size: str = "page") -> dict[str, Any]:
    """The matplotlib rcParams of the paper style at ``size`` ("column" or "page")."""
    base = FONT_PT[size]
    return {
        "font.family": "DejaVu Sans", "font.size": base, "axes.titlesize": base,
        "axes.labelsize": base, "xtick.labelsize": base - 1, "ytick.labelsize": base - 1,
        "legend.fontsize": base - 1, "legend.title_fontsize": base - 1,
        "figure.titlesize": base + 1, "axes.linewidth": 0.6, "lines.linewidth": 1.2,
        "lines.markersize": 3.5, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
        "xtick.major.size": 2.5, "ytick.major.size": 2.5, "xtick.minor.size": 1.5,
        "ytick.minor.size": 1.5, "grid.linewidth": 0.4, "hatch.linewidth": 0.5,
        "legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False,
        "svg.fonttype": "none", "svg.hashsalt": "eie-sim", "pdf.fonttype": 42,
        "ps.fonttype": 42, "savefig.dpi": DPI,
    }


def _check_size(size: str) -> str:
    if size not in SIZES:
        raise EieSimError(f"unknown figure size {size!r}; allowed: {', '.join(SIZES)}")
    return size


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
        "ese-throughput": "eie-sim sweep --arch ese --workload ese-lstm --pes 32,64,128 "
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


def _constants(rows: list[dict], skip: Sequence[str] = (), *, energy: bool = True) -> str:
    """A note: the settings that are the same for every row, and each machine's full label
    when an architecture ran as one machine throughout. ``energy``: the figure shows energy,
    so the note names the energy table(s); a figure without energy never names one."""
    parts = []
    for column, fmt in (("num_pes", "{} PEs"), ("energy_table", "{} energy table"),
                        ("engine", "{} engine")):
        values = {_hashable(r.get(column)) for r in rows}
        if column == "energy_table" and not energy:
            continue
        if column not in skip and len(values) == 1 and None not in values:
            parts.append(fmt.format(_fmt(values.pop())))
    text = ", ".join(parts)
    one_table = not energy or len({r.get("energy_table") for r in rows}) == 1
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


def _auto_yscale(values: Sequence[float], linear: str = "linear") -> str:
    """"log" when the positive values span more than :data:`LOG_SPAN`, else ``linear``."""
    positive = [v for v in values if v is not None and v > 0]
    if positive and max(positive) > LOG_SPAN * min(positive):
        return "log"
    return linear


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
    legend = {(True, False): "machine", (False, True): "workload"}.get(
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
        {"key": "speedup", "title": "Speedup over the smallest PE count",
         "xlabel": "number of PEs", "ylabel": "speedup (×)", "xscale": "log2", "yscale": "log2",
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
    return {"title": "Speedup and load balance vs number of PEs",
            "subtitle": _constants(rows, skip=("num_pes",), energy=False), "panels": panels}


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
        {"key": "speedup", "title": "Speedup over the shallowest queue",
         "xlabel": "activation-queue depth (entries per PE)", "ylabel": "speedup (×)",
         "xscale": "log2",
         "yscale": "linear", "y_of": lambda r, base: base["cycles"] / r["cycles"], "series": []},
    ]
    panels = _line_panels(kind, rows, "act_queue_depth", int, panels,
                          ("cycles", "load_balance_efficiency"))
    return {"title": "Load balance and speedup vs activation-queue depth",
            "subtitle": _constants(rows, energy=False), "panels": panels}


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
    for panel in panels:
        panel["yscale"] = _auto_yscale([y for s in panel["series"] for y in s["y"]])
    workloads = ", ".join(map(str, _distinct(rows, "workload")))
    return {"title": f"Energy and latency vs effective weight sparsity, {workloads}",
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
    rows_idx = [b["row"] for b in bars]

    def pj_of(unit: str) -> list[float]:
        return [_number(rows[i], f"energy_pj.{unit}") or 0.0 for i in rows_idx]

    def share_of(unit: str) -> list[float]:
        return [v / rows[i]["energy_pj"] if rows[i]["energy_pj"] else 0.0
                for v, i in zip(pj_of(unit), rows_idx, strict=True)]

    # Units too small to see in any bar become one segment (their names are kept).
    minor = [u for u in units if max(share_of(u), default=0.0) < MINOR_SHARE]
    groups = [[u] for u in units if u not in minor] + ([minor] if len(minor) > 1 else
                                                       [[u] for u in minor])
    totals_uj = [rows[i]["energy_pj"] / 1e6 for i in rows_idx]
    absolute = {"key": "energy", "title": "Energy per inference (dynamic + leakage)",
                "xlabel": "machine and workload", "ylabel": "energy per inference (µJ)",
                "xscale": "category", "yscale": _auto_yscale(totals_uj),
                "stacked": True, "series": []}
    share = {"key": "share", "title": "Share of energy by unit",
             "xlabel": "machine and workload", "ylabel": "share of energy (%)",
             "xscale": "category", "yscale": "linear", "stacked": True, "ylim": (0, 100),
             "series": []}
    for members in groups:
        label = members[0] if len(members) == 1 else OTHER_UNITS
        pj = [sum(v) for v in zip(*(pj_of(u) for u in members), strict=True)]
        common = {"label": label, "units": members, "x": categories, "rows": rows_idx}
        absolute["series"].append({**common, "y": [v / 1e6 for v in pj]})
        share["series"].append({**common, "y": [100.0 * v / rows[i]["energy_pj"]
                                                if rows[i]["energy_pj"] else 0.0
                                                for v, i in zip(pj, rows_idx, strict=True)]})
    absolute["totals"] = totals_uj
    absolute["bars"] = [{"label": b["label"], "group": b["group"], "arch": b["arch"]}
                        for b in bars]
    share["bars"] = absolute["bars"]
    return {"title": "Energy per inference and its share by unit",
            "subtitle": _constants(rows_e), "panels": [absolute, share],
            "bar_labels": labels}


def _compare_data(rows: list[dict]) -> dict:
    kind = "compare"
    _require_columns(kind, rows, ("time_us", "energy_pj", "dram_read_bytes"))
    groups, labels, bars = _bars(kind, rows)
    names = [g["name"] for g in groups]
    metrics = [
        ("time", "Latency", "latency (µs)", "auto", lambda r: r["time_us"]),
        ("energy", "Energy", "energy per inference (µJ)", "auto",
         lambda r: r["energy_pj"] / 1e6),
        ("dram", "DRAM traffic (read + write)", "DRAM traffic (MB)", "auto",
         lambda r: ((_number(r, "dram_read_bytes") or 0.0)
                    + (_number(r, "dram_write_bytes") or 0.0)) / 1e6),
    ]
    panels = []
    for key, title, ylabel, _scale, value in metrics:
        series = []
        for label in labels:
            mine = [b for b in bars if b["label"] == label
                    and _number(rows[b["row"]], "time_us") is not None
                    and _number(rows[b["row"]], "energy_pj") is not None]
            series.append({"label": label, "arch": mine[0]["arch"] if mine else None,
                           "x": [b["group"] for b in mine],
                           "y": [value(rows[b["row"]]) for b in mine],
                           "rows": [b["row"] for b in mine]})
        values = [y for s in series for y in s["y"]]
        panel = {"key": key, "title": title, "xlabel": "workload", "ylabel": ylabel,
                 "xscale": "category", "yscale": _auto_yscale(values), "categories": names,
                 "series": [s for s in series if s["rows"]]}
        if values and not any(values):  # say it, rather than draw an axis around zero
            panel["note"] = f"no {title} in any run" if key != "dram" else \
                "no DRAM traffic: every machine keeps its weights on chip"
            panel["ylim"] = (0.0, 1.0)
        panels.append(panel)
    if not panels[0]["series"]:
        raise _need(kind, "rows with time_us and energy_pj values")
    archs = [_arch_names().get(a, str(a)) for a in sorted(_distinct(rows, "arch"), key=_arch_rank)]
    return {"title": f"Latency, energy and DRAM traffic: {', '.join(archs)}",
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
            "subtitle": _constants(rows, energy=False), "panels": [panel]}


#: The ESE paper's figures (Han et al., FPGA 2017): GOP/s on the sparse LSTM and dense-equivalent.
ESE_PAPER_GOPS = {"sparse": 282.0, "dense": 2520.0}


def _ese_throughput_data(rows: list[dict]) -> dict:
    """ESE: operations per second (2 per MAC) on the pruned weights and dense-equivalent (the
    same time for the dense SpMVs: MACs / weight density) vs PEs per channel."""
    kind = "ese-throughput"
    _require_columns(kind, rows, ("num_pes", "macs", "time_us", "weight_density"))
    others = sorted({str(r.get("arch")) for r in rows} - {"ese"})
    if others:
        raise _need(kind, f"a sweep of --arch ese only (this one has {', '.join(others)})")

    def gops(r: dict, dense: bool) -> float:
        ops = 2.0 * r["macs"] / (r["weight_density"] if dense else 1.0)
        return ops / r["time_us"] / 1e3

    panels = [
        {"key": key, "title": title, "xlabel": "PEs per channel",
         "ylabel": "throughput (GOP/s)", "xscale": "log2", "yscale": "linear",
         "y_of": (lambda r, _, d=(key == "dense"): gops(r, d)), "series": []}
        for key, title in (("sparse", "Sparse (pruned weights)"),
                           ("dense", "Dense-equivalent"))
    ]
    panels = _line_panels(kind, rows, "num_pes", int, panels,
                          ("macs", "time_us", "weight_density"))
    pes = sorted({x for s in panels[0]["series"] for x in s["x"]})
    for panel in panels:
        paper = ESE_PAPER_GOPS[panel["key"]]
        values = [y for s in panel["series"] for y in s["y"]] + [paper]
        panel["yscale"] = _auto_yscale(values)
        panel["reference"] = {"label": "ESE paper (32 x 32 PEs)", "x": pes,
                              "y": [paper] * len(pes)}
    return {"title": "ESE throughput vs PEs per channel",
            "subtitle": _constants(rows, skip=("num_pes",), energy=False), "panels": panels}


_DATA: dict[str, Callable[[list[dict]], dict]] = {
    "pe-sweep": _pe_sweep_data,
    "queue-depth": _queue_depth_data,
    "energy-vs-sparsity": _energy_vs_sparsity_data,
    "energy-breakdown": _energy_breakdown_data,
    "compare": _compare_data,
    "roofline": _roofline_data,
    "ese-throughput": _ese_throughput_data,
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
_HATCHES = ("", "//", "..", "xx", "\\\\", "++")


def _style(series: list[dict], many_workloads: bool) -> list[dict]:
    """Colour, line style and marker of each series. The colour is the machine's; when one
    machine runs several workloads the colour is the workload's (both fixed across figures);
    line style and marker tell apart the series that share a colour."""
    archs = list(dict.fromkeys(s.get("arch") for s in series))
    by_workload = many_workloads and len(archs) == 1
    styles, seen = [], {}
    for s in series:
        a = archs.index(s.get("arch"))
        key = s.get("workload") if by_workload else s.get("arch")
        color = workload_colour(key) if by_workload else machine_colour(key)
        n = seen.setdefault(key, 0)
        seen[key] = n + 1
        styles.append({"color": color, "linestyle": _LINESTYLES[n % len(_LINESTYLES)],
                       "marker": _MARKERS[(a + n) % len(_MARKERS)]})
    return styles


def _log2_axis(ax, values: Sequence[float]) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log", base=2)
    ticks = sorted(set(values))
    if len(ticks) > 7:  # every other power of two, so the tick labels do not collide
        ticks = ticks[::2] if ticks[-1] in ticks[::2] else ticks[1::2]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([_fmt(t) for t in ticks])


def _log_y(ax, base: int) -> None:
    """A log y axis labelled with plain numbers (1, 10, 100, ... or 1, 2, 4, 8, ...)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log", base=base)
    ax.yaxis.set_major_locator(LogLocator(base=base, numticks=6))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _number_text(v)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _number_text(v: float) -> str:
    """Short tick and bar text: 0.5, 12.3, 1,234, 12,345."""
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _axes(fig, n: int, size: str) -> list:
    """``n`` panels: stacked vertically in a column figure, side by side on a page."""
    axes = fig.subplots(n, 1) if size == "column" and n > 1 else fig.subplots(1, n)
    return list(axes) if n > 1 else [axes]


def _pt(size: str, delta: float = 0.0) -> float:
    return FONT_PT[size] + delta


def _draw_lines(fig, data: dict, size: str) -> list[list[Callable[[], None]]]:
    panels = data["panels"]
    axes = _axes(fig, len(panels), size)
    many_workloads = len({s.get("workload") for s in panels[0]["series"]}) > 1
    handles: dict[str, Any] = {}
    for ax, panel in zip(axes, panels, strict=True):
        styles = _style(panel["series"], many_workloads)
        for s, st in zip(panel["series"], styles, strict=True):
            (line,) = ax.plot(s["x"], s["y"], label=s["label"], **st)
            handles.setdefault(s["label"], line)
            placed: list[tuple[float, float]] = []
            for x, y, text in zip(s["x"], s["y"], s.get("point_labels") or (), strict=False):
                # Labels of points that (nearly) coincide are stacked, not overprinted.
                ly = math.log10(y) if y > 0 else 0.0
                n = sum(abs(x - px) < 3.0 and abs(ly - py) < 0.15 for px, py in placed)
                placed.append((x, ly))
                ax.annotate(text, (x, y), xytext=(3, 2 - 6 * n), textcoords="offset points",
                            fontsize=_pt(size, -2), color=line.get_color())
        ref = panel.get("reference")
        if ref:
            (line,) = ax.plot(ref["x"], ref["y"], color="0.5", linestyle="--", linewidth=0.8,
                              label=ref["label"])
            handles.setdefault(ref["label"], line)
        if panel["xscale"] == "log2":
            _log2_axis(ax, [x for s in panel["series"] for x in s["x"]])
        if panel["yscale"] in ("log", "log2"):
            _log_y(ax, 2 if panel["yscale"] == "log2" else 10)
        _finish_axis(ax, panel, grid_axis="both")
    _legend(fig, handles, panels[0].get("legend"), size)
    return []


def _finish_axis(ax, panel: dict, *, grid_axis: str) -> None:
    """Limits, title, axis labels (with units), grid and note of one panel."""
    if "ylim" in panel:
        ax.set_ylim(*panel["ylim"])
    ax.set_title(panel["title"])
    ax.set_xlabel(panel["xlabel"])
    ax.set_ylabel(panel["ylabel"])
    ax.grid(True, axis=grid_axis, which="major", alpha=0.3)
    if panel.get("note"):  # wrapped to the panel (the layout narrows it a little)
        import matplotlib

        width_pt = ax.bbox.width * 72.0 / ax.figure.figure.dpi * 0.8
        chars = max(12, int(width_pt / (0.55 * matplotlib.rcParams["font.size"])))
        ax.text(0.5, 0.5, textwrap.fill(panel["note"], chars), transform=ax.transAxes,
                ha="center", va="center", color="0.3")
        ax.set_yticks([0.0])


def _legend(fig, handles: dict, title: str | None, size: str) -> None:
    """One legend for the figure, under the panels, in as many columns as fit the width."""
    if not handles:
        return
    longest = max(len(label) for label in handles)
    # a legend entry: a 2-em handle, the text (about 0.55 em per character) and a gap
    per_entry = (_pt(size, -1) * (0.55 * longest + 3.5)) / 72.0
    ncols = max(1, min(len(handles), int(WIDTH[size] * 0.95 // per_entry)))
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=ncols,
               title=title, handlelength=2.0, columnspacing=1.2)


def _bar_value_labels(ax, bars, values: Sequence[float], size: str) -> None:
    """Write each bar's value above it: horizontally where it fits the bar's width, turned
    90 degrees where it fits that way, not at all where the bars are narrower than the text
    is high (overlapping labels are worse than none: the numbers are in sweep.csv)."""
    if not len(bars):
        return
    (x0, _), (x1, _) = ax.transData.transform([(0.0, 1.0), (bars[0].get_width(), 1.0)])
    bar_pt = abs(x1 - x0) * 72.0 / ax.figure.figure.dpi  # after the layout pass
    font = _pt(size, -2.5)
    texts = [_number_text(v) for v in values]
    widest = max(len(t) for t in texts) * 0.6 * font
    if bar_pt >= widest + 1:
        ax.bar_label(bars, labels=texts, fontsize=font, padding=1)
        _headroom(ax, max(values), font * 1.3 + 2)
    elif bar_pt >= font * 1.1:
        ax.bar_label(bars, labels=texts, fontsize=font, padding=1.5, rotation=90)
        _headroom(ax, max(values), widest + 3)


def _headroom(ax, top_value: float, points: float) -> None:
    """Raise the top of the y axis until ``points`` fit above ``top_value`` (the value labels
    stay inside the axes, clear of the panel title)."""
    dpi = ax.figure.figure.dpi
    for _ in range(40):
        low, high = ax.get_ylim()
        room = ax.bbox.y1 - ax.transData.transform((0.0, top_value))[1]
        if room * 72.0 / dpi >= points + 3.0:
            return
        if ax.get_yscale() == "log":
            ax.set_ylim(low, high * 1.25)
        else:
            ax.set_ylim(low, high + 0.05 * (high - low))


def _group_axis(ax, bars: list[dict], positions: list[float]) -> None:
    """Tick labels: the machine of each bar, and under them each workload group's name."""
    machines = list(dict.fromkeys(b["label"] for b in bars))
    groups = list(dict.fromkeys(b["group"] for b in bars))
    if len(machines) == 1 or len(groups) == 1:  # one name per bar is enough
        names = [b["group"] if len(machines) == 1 else b["label"] for b in bars]
        ax.set_xticks(positions, labels=names)
        if not _tick_labels_fit(ax, positions):  # side by side they would run into each other
            ax.tick_params(axis="x", labelrotation=90)
        return
    ax.set_xticks(positions, labels=[b["label"] for b in bars], rotation=90)
    centres = [sum(p for p, b in zip(positions, bars, strict=True) if b["group"] == g)
               / sum(b["group"] == g for b in bars) for g in groups]
    # the group names go under the machine names: their padding is the longest machine name
    import matplotlib

    root = ax.figure.figure
    renderer = root.canvas.get_renderer()
    pad = (max((t.get_window_extent(renderer).height for t in ax.get_xticklabels()),
               default=0.0) * 72.0 / root.dpi
           + matplotlib.rcParams["xtick.major.size"] + matplotlib.rcParams["xtick.major.pad"]
           + 2.0)
    sec = ax.secondary_xaxis("bottom")
    sec.set_xticks(centres, labels=groups)
    sec.tick_params(length=0, pad=pad)
    sec.spines["bottom"].set_visible(False)


def _tick_labels_fit(ax, positions: Sequence[float]) -> bool:
    """Whether the x tick labels at ``positions`` (laid out, unrotated) fit side by side, each
    within the distance to its neighbours less a small gap."""
    if len(positions) < 2:
        return True
    root = ax.figure.figure
    renderer = root.canvas.get_renderer()
    xs = ax.transData.transform([(p, 0.0) for p in positions])[:, 0]
    spacing = min(abs(b - a) for a, b in zip(xs[:-1], xs[1:], strict=True))
    widest = max(t.get_window_extent(renderer).width for t in ax.get_xticklabels())
    return widest + 4.0 * root.dpi / 72.0 <= spacing


def _bar_positions(bars: list[dict]) -> list[float]:
    """x of each bar: bars side by side, a gap of half a bar between workload groups."""
    out, x, last = [], 0.0, None
    for b in bars:
        if last is not None and b["group"] != last:
            x += 0.5
        out.append(x)
        x += 1.0
        last = b["group"]
    return out


def _draw_breakdown(fig, data: dict, size: str) -> list[list[Callable[[], None]]]:
    panels = data["panels"]
    axes = _axes(fig, 2, size)
    handles: dict[str, Any] = {}
    ticks: list[Callable[[], None]] = []
    labels: list[Callable[[], None]] = []
    for ax, panel in zip(axes, panels, strict=True):
        bars = panel["bars"]
        xs = _bar_positions(bars)
        n = len(xs)
        if panel["key"] == "energy" and panel["yscale"] == "log":
            # stacked segments would lie on a log axis: totals in the machine's colour; the
            # share panel shows the units
            totals = panel["totals"]
            keep = [k for k in range(n) if totals[k] > 0]
            drawn = ax.bar([xs[k] for k in keep], [totals[k] for k in keep], width=0.75,
                           color=[machine_colour(bars[k]["arch"]) for k in keep],
                           edgecolor="white", linewidth=0.4)
            _log_y(ax, 10)
            labels.append(lambda ax=ax, drawn=drawn, v=[totals[k] for k in keep]:
                          _bar_value_labels(ax, drawn, v, size))
        else:
            bottom = [0.0] * n
            for s in panel["series"]:
                drawn = ax.bar(xs, s["y"], bottom=bottom, color=unit_colour(s["label"]),
                               label=s["label"], width=0.75, edgecolor="white", linewidth=0.3)
                handles.setdefault(s["label"], drawn)
                bottom = [b + y for b, y in zip(bottom, s["y"], strict=True)]
            if "totals" in panel:
                ax.margins(y=0.1)
                top = ax.bar(xs, [0.0] * n, bottom=panel["totals"], width=0.75,
                             label="_totals")  # invisible: carries the totals' labels
                labels.append(lambda ax=ax, top=top, v=panel["totals"]:
                              _bar_value_labels(ax, top, v, size))
        ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
        _finish_axis(ax, panel, grid_axis="y")
        ax.set_xlabel("")
        ticks.append(partial(_group_axis, ax, bars, xs))
    _legend(fig, handles, "unit", size)
    return [ticks, labels]


def _draw_grouped(fig, data: dict, size: str) -> list[list[Callable[[], None]]]:
    panels = data["panels"]
    axes = _axes(fig, len(panels), size)
    handles = {}
    ticks: list[Callable[[], None]] = []
    labels: list[Callable[[], None]] = []
    for ax, panel in zip(axes, panels, strict=True):
        cats = panel["categories"]
        series = panel["series"]
        width = 0.8 / max(1, len(series))
        styles = _style(series, False)
        ax.set_xlim(-0.5, len(cats) - 0.5)
        if panel["yscale"] == "log":
            _log_y(ax, 10)
        for k, (s, st) in enumerate(zip(series, styles, strict=True)):
            xs = [cats.index(x) - 0.4 + width * (k + 0.5) for x in s["x"]]
            ys = s["y"]
            if panel["yscale"] == "log":  # a zero has no place on a log axis: leave it out
                xs = [x for x, y in zip(xs, ys, strict=True) if y > 0]
                ys = [y for y in ys if y > 0]
            hatch = _HATCHES[_LINESTYLES.index(st["linestyle"]) % len(_HATCHES)]
            bars = ax.bar(xs, ys, width=width, color=st["color"], label=s["label"],
                          hatch=hatch or None, edgecolor="white", linewidth=0.4)
            if not panel.get("note"):
                labels.append(lambda ax=ax, bars=bars, ys=ys: _bar_value_labels(ax, bars, ys,
                                                                                size))
            handles.setdefault(s["label"], bars)
        ax.margins(y=0.15)
        ax.set_xticks(range(len(cats)), labels=cats)
        ticks.append(partial(_tilt_unless_fit, ax, range(len(cats))))
        _finish_axis(ax, panel, grid_axis="y")
    _legend(fig, handles, "machine", size)
    return [ticks, labels]


def _tilt_unless_fit(ax, positions: Sequence[float]) -> None:
    """Turn the x tick labels 30 degrees (anchored at their right end) unless they fit side by
    side."""
    if not _tick_labels_fit(ax, positions):
        ax.tick_params(axis="x", labelrotation=30)
        for t in ax.get_xticklabels():
            t.set_horizontalalignment("right")


def _draw_roofline(fig, data: dict, size: str) -> list[list[Callable[[], None]]]:
    import numpy as np

    (panel,) = data["panels"]
    ax = fig.subplots(1, 1)
    handles: dict[str, Any] = {}
    xs = [x for s in panel["series"] for x in s["x"]]
    lo = 10 ** math.floor(math.log10(min(xs) / 10)) if xs else 0.1
    grid = np.logspace(math.log10(lo), math.log10(panel["edge"]), 200)
    for k, roof in enumerate(panel["roofs"]):
        y = np.minimum(roof["peak_gflops"], grid * roof["dram_gbps"])
        (line,) = ax.plot(grid, y, linestyle=_LINESTYLES[k % len(_LINESTYLES)], linewidth=0.9,
                          color=machine_colour(roof["arch"]), alpha=0.7)
        handles.setdefault(roof["label"], line)
    for k, s in enumerate(panel["series"]):
        colour = machine_colour(s["arch"])
        marker = _MARKERS[k % len(_MARKERS)]
        for x, y, on_chip in zip(s["x"], s["y"], s["on_chip"], strict=True):
            line = ax.scatter([x], [y], color=colour, marker=marker, s=14, zorder=3,
                              facecolors="none" if on_chip else colour, linewidths=0.8)
        handles.setdefault(s["label"], line)
    if any(on for s in panel["series"] for on in s["on_chip"]):
        ax.axvline(panel["edge"], color="0.6", linewidth=0.6, linestyle=":")
        ax.annotate("no DRAM traffic\n(weights on chip)", (panel["edge"], 0), xycoords=(
            "data", "axes fraction"), xytext=(-3, 3), textcoords="offset points", ha="right",
            va="bottom", fontsize=_pt(size, -2), color="0.35")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _finish_axis(ax, panel, grid_axis="both")
    _legend(fig, handles, None, size)
    return []


#: ``kind -> draw(fig, data, size)``: draws the panels and returns the stages of jobs that need
#: the laid-out geometry (see :func:`figure`).
_DRAW = {"pe-sweep": _draw_lines, "queue-depth": _draw_lines, "energy-vs-sparsity": _draw_lines,
         "energy-breakdown": _draw_breakdown, "compare": _draw_grouped,
         "roofline": _draw_roofline, "ese-throughput": _draw_lines}


def _wrap(text: str, size: str, pt: float) -> str:
    """``text`` wrapped to the figure width (about 0.5 em per character)."""
    chars = max(20, int(WIDTH[size] * 0.97 * 72.0 / (0.6 * pt)))
    return "\n".join(textwrap.fill(line, chars) for line in text.splitlines())


def figure(kind: str, table, size: str = "page"):
    """Draw a plot into a new figure (not written anywhere).

    Parameters
    ----------
    kind : str
        A key of :data:`PLOTS`.
    table : SweepResult
        The sweep table.
    size : {"page", "column"}
        7 in (the full width of a two-column paper) or 3.5 in (one column).

    Returns
    -------
    fig : matplotlib.figure.Figure
        On a ``FigureCanvasAgg``; ``FIGSIZE[size][kind]`` inches, in the paper style.
    data : dict
        What was drawn (see :func:`plot_data`).
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _check_size(size)
    data = plot_data(kind, table)
    width, height = FIGSIZE[size][kind]
    with matplotlib.rc_context(style(size)):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        fig.get_layout_engine().set(h_pad=2 / 72, w_pad=2 / 72, hspace=0.04, wspace=0.04)
        main = fig
        notes = _wrap(data.get("subtitle") or "", size, _pt(size, -2))
        if notes:  # the settings every point shares: small print under the figure
            lines = notes.count("\n") + 1
            notes_in = (lines * _pt(size, -2) * 1.25 + 3.0) / 72.0
            main, below = fig.subfigures(2, 1, height_ratios=[height - notes_in, notes_in])
            below.text(0.01, 1.0, notes, ha="left", va="top", fontsize=_pt(size, -2),
                       color="0.3", linespacing=1.15)
        stages = _DRAW[kind](main, data, size)
        axes = main.get_axes()
        if size == "column" and len(data["panels"]) > 1:  # stacked: one x label, at the bottom
            for ax in axes[:-1]:
                if ax.get_xlabel() == axes[-1].get_xlabel():
                    ax.set_xlabel("")
        main.suptitle(_wrap(data["title"], size, _pt(size, 1)), fontsize=_pt(size, 1))
        # What depends on the final geometry is placed in stages, each after a layout pass:
        # tick labels under tick labels first, then the value labels that must fit their bars
        # and the axes (one pass for a whole stage: each job reads the geometry of its own axes;
        # the last pass moves the labels with their axes).
        for stage in stages:
            fig.get_layout_engine().execute(fig)
            for job in stage:
                job()
        # One last pass, then the layout is fixed: the PNG, SVG and PDF share it instead of
        # each format's save laying the figure out again (the slowest part of writing it).
        fig.get_layout_engine().execute(fig)
        fig.set_layout_engine("none")
    return fig, data


def plot(kind: str, table, out_dir: str | Path, size: str = "page") -> list[Path]:
    """Draw a plot and write ``<kind>.png``, ``<kind>.svg`` and ``<kind>.pdf`` into ``out_dir``.

    Every file is written to a temporary file in ``out_dir`` first and then renamed, so a failure
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
    size : {"page", "column"}
        7 in or 3.5 in wide (see :data:`FIGSIZE`).

    Returns
    -------
    list of Path
        ``[png, svg, pdf]``. The PNG is ``FIGSIZE[size][kind] * DPI`` pixels; the SVG's text is
        ``<text>`` and the PDF's fonts are embedded TrueType (editable).

    Raises
    ------
    EieSimError
        The table lacks what the plot needs, or the files cannot be written.
    """
    import matplotlib

    fig, _ = figure(kind, table, size)
    out = Path(out_dir)
    try:
        if out.exists() and not out.is_dir():
            raise EieSimError(f"plot output {out} is a file; allowed: a directory")
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EieSimError(f"cannot create plot directory {out}: {err.strerror or err}") from None
    paths = [out / f"{kind}.{fmt}" for fmt in FORMATS]
    # no dates: the same table gives byte-identical files
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None},
                "png": None}
    tmps: list[str] = []
    try:
        for path in paths:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=out)
            tmps.append(tmp)
            fmt = path.suffix[1:]
            with os.fdopen(fd, "wb") as fh, matplotlib.rc_context(style(size)):
                fig.savefig(fh, format=fmt, dpi=DPI, metadata=metadata[fmt])
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


def _plotter(kind: str) -> Callable[..., list[Path]]:
    def run(table, out_dir: str | Path, size: str = "page") -> list[Path]:
        return plot(kind, table, out_dir, size)

    run.__name__ = "plot_" + kind.replace("-", "_")
    run.__doc__ = (f"Write {kind}.png, {kind}.svg and {kind}.pdf into ``out_dir`` (see "
                   ":func:`plot`).")
    return run


PLOTS: dict[str, Callable[..., list[Path]]] = {kind: _plotter(kind) for kind in _DATA}
"""``kind -> function(table, out_dir, size="page") -> [png, svg, pdf]``; used by
``eie-sim plot KIND``."""
