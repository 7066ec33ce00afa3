"""Experiments with ESE and load-balance-aware pruning (issue 17): the same LSTM pruned by
magnitude and by load-balance, run on ESE and on EIE across PE counts.

An application module (it runs simulations); nothing imports it but notebooks, tests and users.
Rows carry the machine, the pruning, cycles, MAC-slot utilization and the speedup of
load-balance pruning over magnitude pruning at the same PE count.

* ESE: one channel of N PEs runs the whole LSTM (every phase, element-wise work included); the
  DRAM bandwidth is set high so the SpMVs, where the balance matters, set the time.
* EIE: the same LSTM's SpMVs as EIE layers (``fc_layers``: the four gates as one
  4H x (I + R) layer, then the projection), on one step's real inputs from the fixed-point
  reference, with ``input_relu`` off (LSTM activations are signed) and unbounded SRAM.
"""

from __future__ import annotations

import numpy as np

from eie_sim.config import EIEConfig, ESEConfig
from eie_sim.formats.fixed_point import quantize
from eie_sim.simulate import simulate
from eie_sim.workloads import Workload
from eie_sim.workloads.lstm import (
    CellState,
    LSTMSpec,
    element_wise,
    phase_input,
    quantize_lstm,
    synthetic_float,
    synthetic_inputs,
)

PRUNINGS = ("magnitude", "load-balance")


def study_spec(**changes) -> LSTMSpec:
    """The study's LSTM: ese-lstm's shape, one step of one utterance, rows spread as in a
    trained layer (``row_spread`` 0.5)."""
    return LSTMSpec(steps=1, utterances=1, row_spread=0.5).replace(**changes)


def _eie_inputs(spec: LSTMSpec, model=None, layer=None) -> tuple:
    """EIE layers of the LSTM and their inputs: [x_0; y_{-1} = 0] would be half zeros, so the
    gates take [x_1; y_0] and the projection m_1, from the fixed-point reference. ``model`` and
    ``layer`` (the spec's pruned float and quantized LSTM; the weights do not depend on the
    steps) are built when not given."""
    from eie_sim.workloads.lstm import fc_layers

    spec2 = spec.replace(steps=2)
    model = synthetic_float(spec2) if model is None else model
    layer = quantize_lstm(model) if layer is None else layer
    _, x = synthetic_inputs(spec2)
    st = CellState.zeros(layer, 1)
    gate_in = m_in = None
    for t in range(2):
        for m in layer.phases:
            a = phase_input(layer, m.name, x[:, t : t + 1], st)
            if t == 1 and m.name == "i":
                gate_in = a[:, 0].copy()
            if t == 1 and m.name == "y":
                m_in = a[:, 0].copy()
            element_wise(layer, m.name, m.matvec(a), st)
    layers = fc_layers(model)
    f8 = layers[0].act_frac_bits
    return layers, [gate_in, m_in if m_in is not None else quantize(0, f8)]


def load_balance_sweep(pes=(16, 32, 64, 128, 256, 512, 1024), archs=("ese", "eie"),
                       **spec_changes) -> list[dict]:
    """Cycles, MAC-slot utilization and the load-balance speedup per (arch, PEs, pruning)."""
    rows = []
    for n in pes:
        by_prune = {}
        for how in PRUNINGS:
            spec = study_spec(prune=how, prune_pes=n, **spec_changes)
            # Built once for both machines: the pruning of the full-size LSTM dominates.
            model = synthetic_float(spec)
            lstm = quantize_lstm(model)
            for arch in archs:
                if arch == "ese":
                    wl = Workload(name=spec.name, layers=(lstm,),
                                  inputs=synthetic_inputs(spec)[1])
                    cfg = ESEConfig(channels=1, num_pes=n, dram_bandwidth_gbps=1e5,
                                    spmat_buffer_bytes=1 << 20, ptr_buffer_bytes=1 << 16,
                                    accumulators_per_pe=1 << 12)
                    r = simulate(cfg, wl, energy=None, check=False)
                    layers = r.layers
                    spread = max(int(np.ptp(pe_nonzeros_of(m, n))) for m in wl.layers[0].phases)
                else:
                    fcs, ins = _eie_inputs(spec, model, lstm)
                    cfg = EIEConfig(num_pes=n, input_relu=False, sram_capacity="unbounded")
                    layers = [simulate(cfg, Workload(name=f.name, layers=(f,), inputs=a),
                                       energy=None, check=False).layers[0]
                              for f, a in zip(fcs, ins, strict=False)]
                    spread = None
                cycles = sum(lr.cycles for lr in layers)
                slots = sum(lr.cycles * lr.peak_macs_per_cycle for lr in layers)
                macs = sum(lr.macs for lr in layers)
                by_prune[(arch, how)] = cycles
                rows.append({"arch": arch, "pes": n, "prune": how, "cycles": cycles,
                             "mac_slot_utilization": macs / slots if slots else 0.0,
                             "pe_nnz_spread": spread})
        for row in rows[-2 * len(archs):]:
            row["lb_speedup"] = by_prune[(row["arch"], "magnitude")] / by_prune[
                (row["arch"], "load-balance")]
    return rows


def pe_nonzeros_of(m, num_pes: int) -> np.ndarray:
    """Non-zeros of each PE's rows (i mod num_pes) of a phase matrix (CSC)."""
    per_row = np.bincount(m.row_idx, minlength=m.n_rows)
    return np.bincount(np.arange(m.n_rows) % num_pes, weights=per_row,
                       minlength=num_pes).astype(np.int64)


def markdown_table(rows: list[dict]) -> str:
    """The sweep as a markdown table: per (PEs, arch), cycles and MAC-slot utilization of both
    prunings, the load-balance speedup and ESE's per-PE non-zero spread."""
    by = {(r["pes"], r["arch"], r["prune"]): r for r in rows}
    keys = list(dict.fromkeys((r["pes"], r["arch"]) for r in rows))
    out = ["| PEs | arch | cycles, magnitude | cycles, load-balance | MAC-slot util., magnitude "
           "| MAC-slot util., load-balance | LB speedup | PE nnz spread, mag. / LB |",
           "|---|---|---|---|---|---|---|---|"]
    for pes, arch in keys:
        m, lb = by[(pes, arch, "magnitude")], by[(pes, arch, "load-balance")]
        spread = ("—" if m["pe_nnz_spread"] is None
                  else f"{m['pe_nnz_spread']:,} / {lb['pe_nnz_spread']:,}")
        out.append(f"| {pes} | {arch.upper()} | {m['cycles']:,} | {lb['cycles']:,} | "
                   f"{m['mac_slot_utilization']:.1%} | {lb['mac_slot_utilization']:.1%} | "
                   f"{lb['lb_speedup']:.2f}x | {spread} |")
    return "\n".join(out)


if __name__ == "__main__":  # python -m eie_sim.ese_study: the table of docs/ESE_MODEL.md
    print(markdown_table(load_balance_sweep()))
