"""ESE: timing gates of the model (probed one cycle early and on time), the scheduler's rules,
the LSTM workloads and their fixed-point reference."""

from __future__ import annotations

import numpy as np
import pytest

from eie_sim import simulate
from eie_sim.accelerator import RunOptions
from eie_sim.config import ESEConfig
from eie_sim.engines.ese import model
from eie_sim.engines.ese.common import encode_phase
from eie_sim.engines.ese.fast import spmv_schedule, timeline
from eie_sim.errors import CapacityError, ConfigError, WorkloadError
from eie_sim.layer import QuantizedLayer
from eie_sim.workloads import get_workload
from eie_sim.workloads.lstm import (
    SPECS,
    LSTMSpec,
    SparseMatrix,
    lstm_forward_fixed,
    lstm_forward_float,
    lstm_workload,
    synthetic_float,
    synthetic_inputs,
)


def small(**changes):
    spec = LSTMSpec(name="t", input_size=4, hidden=8, projection=4, steps=2, utterances=2,
                    density=0.5, prune_pes=2)
    wl = lstm_workload(spec.replace(**changes))
    return wl.layers[0], wl.inputs


# --------------------------------------------------------------------------- SpMV gates
@pytest.mark.parametrize("k", [1, 2, 5])
def test_one_column_of_k_entries_takes_8_plus_k_cycles(k):
    """Broadcast at 1, pop at 2, first issue at 3, last at 2 + k, its write at 7 + k."""
    t = spmv_schedule(np.array([[k]]), np.array([[True]]), capacity=7)
    assert t.cycles == 8 + k
    assert list(t.busy) == [k] and list(t.stall) == [0] and t.ccu_stall == 0


def test_an_empty_slice_ends_at_its_pop():
    t = spmv_schedule(np.array([[1]]), np.array([[False]]), capacity=7)
    assert t.cycles == 3  # popped in cycle 2, no write


def test_a_full_queue_holds_the_broadcast_until_the_pop_frees_it():
    """Capacity 1: broadcast 1 is tried in cycle 2, but the slot of broadcast 0 (popped in
    cycle 2) frees only in cycle 3: one cycle of ccu stall, pushed on time in cycle 3."""
    work = np.array([[5, 1]])
    t = spmv_schedule(work, np.ones_like(work, bool), capacity=1)
    assert t.ccu_stall == 1
    # PE: first column issues 3..7, the second at 8 (the queue delay is hidden behind work).
    assert t.cycles == 14  # last issue in cycle 8, its write lands in 13
    wide = spmv_schedule(work, np.ones_like(work, bool), capacity=2)
    assert wide.ccu_stall == 0 and wide.cycles == t.cycles


def test_a_slow_pe_stalls_the_others_through_the_atomic_broadcast():
    """PE 0 needs 6 cycles per column, PE 1 one: with capacity 1 PE 1 waits (stall) for
    broadcasts PE 0's full queue holds back."""
    work = np.array([[6, 6, 6], [1, 1, 1]])
    t = spmv_schedule(work, np.ones_like(work, bool), capacity=1)
    assert t.stall[0] == 0 and t.stall[1] > 0 and t.ccu_stall > 0


# --------------------------------------------------------------------------- scheduler
def _prepared(config, **changes):
    layer, x = small(**changes)
    return model.prepare(layer, x, config, RunOptions())


def test_first_spmv_starts_exactly_when_its_weights_are_loaded():
    cfg = ESEConfig(channels=1, num_pes=2, dram_bandwidth_gbps=0.4)  # 2 bytes per cycle
    p = _prepared(cfg)
    plans = p.state.plans
    spmv = [spmv_schedule(pl.work, pl.enc.real > 0, cfg.queue_capacity).cycles for pl in plans]
    tl = timeline(plans, spmv, p.state.steps)
    assert tl.spmv_start[0] == plans[0].load_cycles == tl.load_end[0]
    # Loads are back to back while buffers are free, and a load waits for SpMV q - 2.
    for q in range(1, len(tl.load_end)):
        start = max(tl.load_end[q - 1], tl.spmv_end[q - 2] if q >= 2 else 0)
        assert tl.load_end[q] == start + plans[q % len(plans)].load_cycles
    # DRAM-bound: a steady step is the step's loads.
    run = model.run_fast(p, cfg)
    assert run.segment_cycles[-1] == sum(pl.load_cycles for pl in plans)


def test_compute_bound_step_exposes_only_the_o_and_y_element_wise_tasks():
    cfg = ESEConfig(channels=1, num_pes=2, dram_bandwidth_gbps=1e5, ewu_latency_cycles=5)
    p = _prepared(cfg, steps=3)
    run = model.run_fast(p, cfg)
    d = run.details
    exposed = d["ewu_cycles"]["o"] + d["ewu_cycles"]["y"]
    assert run.segment_cycles[-1] == sum(d["spmv_cycles"].values()) + exposed
    # Without a projection the o task (which writes y = m) is the only exposed one.
    p0 = _prepared(cfg, steps=3, projection=0)
    r0 = model.run_fast(p0, cfg)
    d0 = r0.details
    assert r0.segment_cycles[-1] == sum(d0["spmv_cycles"].values()) + d0["ewu_cycles"]["o"]


def test_ewu_latency_one_cycle_more_is_one_cycle_per_exposed_task():
    base = ESEConfig(channels=1, num_pes=2, dram_bandwidth_gbps=1e5, ewu_latency_cycles=3)
    a = model.run_fast(_prepared(base), base)
    slower = base.replace(ewu_latency_cycles=4)
    b = model.run_fast(_prepared(slower), slower)
    assert b.segment_cycles[-1] == a.segment_cycles[-1] + 2


def test_rounds_when_utterances_exceed_channels():
    cfg = ESEConfig(channels=2, num_pes=2)
    layer, x = small(utterances=3)
    r = simulate(cfg, layer, inputs=x, engine="des")
    lr = r.layers[0]
    assert lr.details["rounds"] == 2 and len(lr.segment_cycles) == 2 * layer.steps
    assert lr.outputs_match_reference is True
    assert any("idle in the last round" in w for w in lr.warnings)
    # Channel 1 is idle in round 2: it does less work than channel 0.
    assert lr.unit_busy_cycles[2:].sum() < lr.unit_busy_cycles[:2].sum()


# --------------------------------------------------------------------------- encoding
def test_encoding_pads_long_runs_like_eie():
    """The paper's example column [0,0,1,2,0x18,3] on one PE with a 4-bit z."""
    col = np.array([0, 0, 1, 2] + [0] * 18 + [3], dtype=float)
    m = SparseMatrix.from_dense("i", col[:, None] / 4)
    enc = encode_phase(m, 1, 4)
    assert list(enc.z) == [2, 0, 15, 2]
    assert [int(v) != 0 for v in enc.w] == [True, True, False, True]
    assert enc.entries().tolist() == [[4]] and enc.real.tolist() == [[3]]


# --------------------------------------------------------------------------- workloads
def test_ese_lstm_shape_matches_the_paper():
    spec = SPECS["ese-lstm"]
    assert spec.dense_weights == 3_251_200  # W_x, W_r, W_ym and three peepholes (docs/ESE_MODEL.md)
    wl = get_workload("ese-lstm")
    layer = wl.layers[0]
    assert layer.n_in == 153 and layer.n_out == 512 and layer.hidden == 1024
    assert [m.name for m in layer.phases] == ["i", "f", "c", "o", "y"]
    assert abs(layer.weight_density - 0.112) < 0.001
    assert wl.inputs.shape == (153, 32 * 4) and wl.inputs.dtype == np.int16
    nt = get_workload("nt-lstm").layers[0]
    assert [m.name for m in nt.phases] == ["i", "f", "c", "o"] and nt.phases[0].n_cols == 1200


def test_luts_have_the_stated_size_and_range():
    layer, _ = small()
    sig, tanh = layer.luts
    assert sig.size == tanh.size == 2048
    assert sig[0] == 1 and sig[-1] == 4095  # sigmoid(-8 + 1/256) and sigmoid(8 - 1/256), Q3.12
    assert tanh[1024] == 16 and tanh[1023] == -16  # tanh(+-1/256) in Q3.12


def test_fixed_point_reference_tracks_the_float_model():
    spec = LSTMSpec(name="t", input_size=16, hidden=32, projection=16, steps=5, utterances=3,
                    density=0.3)
    wl = lstm_workload(spec)
    y = lstm_forward_fixed(wl.layers[0], wl.inputs) / 4096
    yf = lstm_forward_float(synthetic_float(spec), synthetic_inputs(spec)[0])
    assert np.max(np.abs(y - yf)) < 0.05 < np.max(np.abs(yf))


@pytest.mark.parametrize("method", ["magnitude", "load-balance", "n:m"])
def test_pruning_choice_reaches_the_workload(method):
    layer, _ = small(prune=method, density=0.5, input_size=4, projection=4)
    gate = layer.phases[0]
    w = np.zeros((gate.n_rows, gate.n_cols))
    w[gate.row_idx, np.repeat(np.arange(gate.n_cols), np.diff(gate.col_ptr))] = 1
    per_pe = [w[k::2].sum() for k in range(2)]
    if method == "load-balance":
        assert abs(per_pe[0] - per_pe[1]) <= 2  # W_x and W_r each balanced within one
    if method == "n:m":
        assert (w.reshape(8, -1, 4).sum(axis=2) <= 2).all()


def test_ese_refuses_other_layers_and_bad_inputs():
    cfg = ESEConfig(channels=1, num_pes=2)
    with pytest.raises(WorkloadError, match="arch ese does not run fc layers"):
        simulate(cfg, "alexnet-fc8")
    rng = np.random.default_rng(0)
    fc = QuantizedLayer.from_dense("fc", rng.normal(size=(4, 4)), None)
    with pytest.raises(WorkloadError, match="ESE runs LSTM layers"):  # the model's own guard
        model.prepare(fc, np.zeros(4, np.int16), cfg, RunOptions())
    layer, x = small()
    with pytest.raises(WorkloadError, match="utterances x 2 steps"):
        simulate(cfg, layer, inputs=x[:, :3])
    with pytest.raises(CapacityError, match="accumulators_per_pe"):
        simulate(ESEConfig(channels=1, num_pes=1, accumulators_per_pe=4), layer, inputs=x)
    with pytest.raises(WorkloadError, match="prune must be one of"):
        LSTMSpec(prune="random")
    with pytest.raises(ConfigError, match="unknown ESE preset"):
        ESEConfig.preset("ese-vu9p")
