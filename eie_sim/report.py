"""Text reports of results: what ``eie-sim run`` and ``eie-sim compare`` print, as library
functions notebooks can use (``print(format_run(result))``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from eie_sim.result import RunResult


def table(rows: Sequence[Sequence[object]], header: Sequence[str], *, left: bool = False) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned (all
    left-aligned with ``left``)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r):
        return "  ".join(str(c).rjust(w) if i and not left else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True)))

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def _match(flag: bool | None) -> str:
    return "not checked" if flag is None else "yes" if flag else "NO"


def format_run(result: RunResult) -> str:
    """The run report: per-layer timing, energy, memory traffic and per-unit activity."""
    unit = result.layers[0].unit_kind
    lines = [f"workload {result.workload} on {result.machine}, engine {result.engine}", ""]
    rows = [[lr.name, f"{lr.n_in}x{lr.n_out}", f"{lr.weight_density:.1%}",
             f"{lr.activation_density:.1%}", f"{lr.cycles:,}", f"{lr.time_us:.2f}",
             f"{lr.load_balance_efficiency:.1%}", f"{lr.unit_utilization:.1%}",
             f"{lr.mac_slot_utilization:.1%}", _match(lr.outputs_match_reference)]
            for lr in result.layers]
    rows.append(["total", "", "", "", f"{result.cycles:,}", f"{result.time_us:.2f}", "", "",
                 "", _match(result.outputs_match_reference)])
    lines.append(table(rows, ["layer", "size", "weights", "acts", "cycles", "time_us",
                              "load_bal", "util", "mac_util", "matches_ref"]))
    lines.append(f"(load_bal: busy / (busy + stall); util: busy / all {unit} cycles; "
                 "mac_util: useful MACs / MAC slots)")
    if result.layers[0].energy is not None:
        lines += ["", f"energy ({result.layers[0].energy.table} table)"]
        erows = [[lr.name, f"{lr.energy.total_pj / 1e6:.3f}", f"{lr.energy.dynamic_pj / 1e6:.3f}",
                  f"{lr.energy.leakage_pj / 1e6:.3f}", f"{lr.energy.power_mw:.1f}"]
                 for lr in result.layers]
        total = result.energy
        erows.append(["total", f"{total.total_pj / 1e6:.3f}", f"{total.dynamic_pj / 1e6:.3f}",
                      f"{total.leakage_pj / 1e6:.3f}", f"{total.power_mw:.1f}"])
        lines.append(table(erows, ["layer", "energy_uJ", "dynamic_uJ", "leakage_uJ",
                                   "power_mW"]))
    lines += ["", "memory traffic (bytes, all layers)"]
    lines.append(table([[lvl, f"{d['read']:,.0f}", f"{d['write']:,.0f}"]
                        for lvl, d in result.traffic_bytes.items()], ["level", "read", "write"]))
    lines += ["", "per-unit activity (unit.action: count per layer)"]
    names = list(result.layers[0].counts)
    lines.append(table([[k, *(f"{lr.counts[k]:,}" for lr in result.layers)] for k in names],
                       ["unit.action", *(lr.name for lr in result.layers)]))
    accuracy = result.info.get("accuracy")
    if accuracy:
        how = (f" (model pruned {accuracy['pattern']} and fine-tuned, all images as one batch)"
               if accuracy.get("pattern") else "")
        lines += ["", f"accuracy on {accuracy.get('images', '?')} test images{how}: float "
                      f"{accuracy['float_accuracy']:.1%}, simulated "
                      f"{accuracy['simulated_accuracy']:.1%}"]
    for lr in result.layers:
        for w in lr.warnings:
            lines.append(f"warning: {lr.name}: {w}")
    return "\n".join(lines)


def format_compare(rows: Sequence, totals: Sequence[dict]) -> str:
    """The comparison report (see :mod:`eie_sim.compare`): machines, then per machine and batch
    the workload's time and energy per inference, then per layer the bound."""
    if not rows:
        return "nothing compared"
    first = rows[0]
    machines: dict[str, tuple[str, str]] = {}
    for r in rows:  # one line per machine, at the smallest batch (the label names the batch)
        machines.setdefault(r.role, (r.machine, r.energy_table))
    batches = sorted({r.batch for r in rows})
    lines = [f"workload {first.workload}, mode {first.mode}, batch "
             f"{', '.join(map(str, batches))}", ""]
    lines += [f"  {role}: {machine} ({tbl} energy table)"
              for role, (machine, tbl) in machines.items()]
    base = {t["batch"]: t for t in totals if t["role"] == "dense PE array"}

    def ratio(t, key):
        b = base.get(t["batch"])
        return f"{b[key] / t[key]:,.1f}x" if b and t[key] else "-"

    lines += ["", "per inference (all layers); ratios against the dense PE array"]
    lines.append(table([[t["role"], t["batch"], f"{t['time_us_per_inference']:,.2f}",
                         f"{t['energy_uj_per_inference']:,.2f}",
                         f"{t['dram_bytes_per_inference'] / 1e6:,.3f}",
                         ratio(t, "time_us_per_inference"),
                         ratio(t, "energy_uj_per_inference")] for t in totals],
                       ["machine", "batch", "time_us", "energy_uJ", "dram_MB",
                        "speedup_vs_dense", "energy_vs_dense"]))
    lines += ["", "per layer: the bound, arithmetic intensity (FLOP per DRAM byte) and fraction "
                  "of peak (useful MACs / MAC slots)"]
    lines.append(table([[r.role, r.layer, r.batch, f"{r.time_us_per_inference:,.2f}", r.bound,
                         "-" if r.arithmetic_intensity is None
                         else f"{r.arithmetic_intensity:,.1f}",
                         f"{r.fraction_of_peak:.1%}"] for r in rows],
                       ["machine", "layer", "batch", "time_us/inf", "bound", "intensity",
                        "of_peak"]))
    return "\n".join(lines)


def layer_rows(result: RunResult) -> list[dict[str, object]]:
    """One flat row per layer (what ``eie-sim run --csv`` writes): the run's identity, the
    layer's size, densities, cycles, time, utilization, energy by unit (pJ), traffic by level
    (bytes) and every counter. Column names: ``energy_pj.<unit>``, ``traffic.<level>.read`` /
    ``.write``, ``counts.<unit.action>``, ``unit_busy_cycles`` (summed over the compute units)."""
    rows = []
    for index, lr in enumerate(result.layers):
        row: dict[str, object] = {
            "workload": result.workload, "arch": result.arch, "machine": result.machine,
            "engine": result.engine, "layer_index": index, "layer": lr.name,
            "inputs": lr.n_in, "outputs": lr.n_out, "weight_density": lr.weight_density,
            "effective_weight_density": lr.effective_weight_density,
            "activation_density": lr.activation_density, "cycles": lr.cycles,
            "time_us": lr.time_us, "unit_kind": lr.unit_kind, "units": lr.unit_busy_cycles.size,
            "unit_busy_cycles": int(lr.unit_busy_cycles.sum()),
            "unit_stall_cycles": int(lr.unit_stall_cycles.sum()),
            "unit_idle_cycles": int(lr.unit_idle_cycles.sum()),
            "load_balance_efficiency": lr.load_balance_efficiency,
            "unit_utilization": lr.unit_utilization, "macs": lr.macs,
            "peak_macs_per_cycle": lr.peak_macs_per_cycle,
            "mac_slot_utilization": lr.mac_slot_utilization,
            "outputs_match_reference": lr.outputs_match_reference,
        }
        if lr.energy is not None:
            row.update({"energy_table": lr.energy.table, "energy_pj": lr.energy.total_pj,
                        "dynamic_pj": lr.energy.dynamic_pj, "leakage_pj": lr.energy.leakage_pj,
                        "power_mw": lr.energy.power_mw})
            row.update({f"energy_pj.{u}": pj for u, pj in sorted(lr.energy.by_unit.items())})
        for level, d in lr.traffic_bytes.items():
            row[f"traffic.{level}.read"] = d["read"]
            row[f"traffic.{level}.write"] = d["write"]
        row.update({f"counts.{k}": v for k, v in lr.counts.items()})
        row["warnings"] = "; ".join(lr.warnings)
        rows.append(row)
    return rows


def layer_csv(result: RunResult) -> str:
    """:func:`layer_rows` as CSV text (a header, then one line per layer)."""
    rows = layer_rows(result)
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
