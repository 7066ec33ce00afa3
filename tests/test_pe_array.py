"""The PE-array substrate EIE and the dense baseline share (eie_sim/engines/pe_array).

The two scan policies of the central control unit, the CCU's broadcast cycles with each, the
generic PE shell with a column source of the test's own, the shared counter catalogue, the
dense baseline's SimPy and vectorised engines against each other, and the layering the refactor
promises (the dense baseline borrows nothing from EIE; the fast path imports no SimPy).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import simpy

from eie_sim.config import DenseConfig
from eie_sim.engines.dense import counters as dense_counters
from eie_sim.engines.dense import des as dense_des
from eie_sim.engines.dense import fast as dense_fast
from eie_sim.engines.eie import counters as eie_counters
from eie_sim.engines.eie.des.lnzd import LeadingNonZeroDetect
from eie_sim.engines.pe_array import counters as shared_counters
from eie_sim.engines.pe_array.des.act_queue import ActivationQueue
from eie_sim.engines.pe_array.des.array import run_passes, wire
from eie_sim.engines.pe_array.des.ccu import CentralControlUnit, EveryActivation
from eie_sim.engines.pe_array.des.pe import ArithmeticUnit, ProcessingElement
from eie_sim.engines.pe_array.timing import (
    ISSUE_TO_WRITE,
    POP_TO_ISSUE,
    PUSH_TO_ISSUE,
    SCAN_START_CYCLE,
)
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import reference_forward

ENGINES = Path(__file__).resolve().parent.parent / "eie_sim" / "engines"
ONE = 256  # 1.0 in Q7.8


# --------------------------------------------------------------------------- scan policies
def test_every_activation_broadcasts_each_lane_without_an_extra_cycle():
    assert EveryActivation().scan_group([0, 3, 0]) == (range(3), False)
    selected, advance = EveryActivation().scan_group([0] * 4)
    assert list(selected) == [0, 1, 2, 3] and advance is False


def test_lnzd_policy_selects_non_zeros_and_pays_a_cycle_when_the_last_lane_is_zero():
    counts = {"lnzd.select": 0, "lnzd.advance": 0}
    lnzd = LeadingNonZeroDetect(4, counts)
    assert lnzd.scan_group([0, 5, 0, 0]) == ([1], True)
    assert lnzd.scan_group([3, 0, 0, 7]) == ([0, 3], False)
    assert lnzd.scan_group([0, 0, 0, 0]) == ([], True)
    assert lnzd.scan_group([2, 9]) == ([0, 1], True)  # partial group: missing lanes are zero
    assert counts == {"lnzd.select": 5, "lnzd.advance": 3}


def scan_pushes(policy, x, num_lanes: int, input_relu: bool = True, swap: int = 0,
                batch: int = 1 << 20):
    """Run the CCU alone (queues never full) and return [(column, value, push cycle)]."""
    env = simpy.Environment()
    counts = eie_counters.zero_counts()
    queues = [ActivationQueue(env, 1 << 20, counts) for _ in range(num_lanes)]
    ccu = CentralControlUnit(env, queues, counts, policy, batch_activations=batch,
                             batch_swap_cycles=swap)
    for q in queues:
        q.open()
    env.process(ccu.scan(np.asarray(x, dtype=np.int16), input_relu, None, len(x)))
    env.run()
    pushes = [(column, value, push) for push, _, column, value in queues[0]._items]
    for q in queues[1:]:
        assert [(c, v, p) for p, _, c, v in q._items] == pushes  # the broadcast is to all
    return pushes, ccu, counts


def test_ccu_with_the_lnzd_broadcasts_non_zeros_one_per_cycle_plus_advances():
    # Group 0: lane 1 at cycle 1, advance at 2; group 1: lanes 0, 3 at 3, 4; -2 is dropped.
    x = [0, 5, -2, 0, 3, 0, 0, 7]
    pushes, ccu, counts = scan_pushes(LeadingNonZeroDetect(4), x, 4)
    assert pushes == [(1, 5, 1), (4, 3, 3), (7, 7, 4)]
    assert ccu.last_slot_cycle == 4
    assert counts["ccu.broadcast"] == 3 and counts["pe.src_regfile.read"] == 8


def test_ccu_broadcasting_every_activation_zeroes_negatives_with_relu_only():
    x = [0, 5, -2, 0, 3]
    pushes, ccu, _ = scan_pushes(EveryActivation(), x, 4)
    assert pushes == [(j, max(v, 0), SCAN_START_CYCLE + j) for j, v in enumerate(x)]
    pushes, _, _ = scan_pushes(EveryActivation(), x, 4, input_relu=False)
    assert [v for _, v, _ in pushes] == x
    assert ccu.last_slot_cycle == SCAN_START_CYCLE + len(x) - 1


def test_ccu_pauses_between_source_batches():
    pushes, _, _ = scan_pushes(EveryActivation(), [1] * 6, 2, swap=3, batch=4)
    assert [p for _, _, p in pushes] == [1, 2, 3, 4, 8, 9]


# --------------------------------------------------------------------------- composed PE
class RunOfEntries:
    """A column source of the test's own: column j issues ``lengths[j]`` entries, all of weight
    1.0 into local row 0."""

    def __init__(self, lengths: list[int], one: int) -> None:
        self.lengths = lengths
        self.one = one

    def issue(self, pass_index: int, column: int, activation: int, first_issue: int,
              arith: ArithmeticUnit) -> int:
        for i in range(self.lengths[column]):
            arith.issue(first_issue + i, 0, self.one, activation, False)
        return max(1, self.lengths[column])


@pytest.mark.parametrize("lengths", [[1], [4], [0], [3, 0, 2]])
def test_generic_pe_with_any_column_source_follows_the_pipeline_timing(lengths):
    # One PE, every activation broadcast at 1, 2, 3, ...: S_b = max(F_{b-1} + 1, P_b + 2).
    layer = QuantizedLayer.from_dense("t", np.ones((1, len(lengths))))
    config = DenseConfig(num_pes=1)
    env = simpy.Environment()
    counts = dense_counters.zero_counts()
    source = RunOfEntries(lengths, layer.bias_activation())

    def make_pe(k, queue):
        return ProcessingElement(env, k, config, queue, source, layer, counts, passes=1)

    queues, pes, ccu = wire(env, config, counts, make_pe, EveryActivation())
    x = np.full(len(lengths), ONE, dtype=np.int16)
    run = run_passes(env, config, layer, x, queues, pes, ccu, counts, 1, lambda p, s: None)
    last, last_write, pop = -1, -1, -1
    for b, n in enumerate(lengths):
        push = SCAN_START_CYCLE + b
        first = max(last + 1, push + PUSH_TO_ISSUE)
        pop = first - POP_TO_ISSUE
        last = first + max(1, n) - 1
        if n:
            last_write = last + ISSUE_TO_WRITE
    # The end: one cycle after the last real write, or after the last pop if that is later; an
    # empty last slice's cycle after the end is not work.
    done = max(last_write, pop)
    assert run.cycles == done + 1
    assert run.unit_busy.tolist() == [sum(max(1, n) for n in lengths) - max(0, last - done)]
    assert run.unit_busy[0] + run.unit_stall[0] + run.unit_idle[0] == run.cycles
    assert counts["pe.arith.mac"] == sum(lengths)
    assert run.outputs.tolist() == [min(sum(lengths) * ONE, 32767)]


# --------------------------------------------------------------------------- counters
def test_both_catalogues_extend_the_shared_counters_with_the_same_units():
    for catalogue in (eie_counters.COUNTERS, dense_counters.COUNTERS):
        for name, (unit, _) in shared_counters.COUNTERS.items():
            assert catalogue[name][0] == unit
    assert set(eie_counters.COUNTERS) - set(shared_counters.COUNTERS) == {
        "lnzd.select", "lnzd.advance", "pe.ptr_sram.read", "pe.spmat_sram.read",
        "pe.spmat_sram.write", "pe.weight_decoder.lookup", "pe.arith.padding"}
    assert set(dense_counters.COUNTERS) - set(shared_counters.COUNTERS) == {
        "pe.weight_sram.read", "pe.weight_sram.write"}


def test_catalogue_refuses_missing_repeated_or_shadowed_counters():
    names = list(shared_counters.COUNTERS)
    with pytest.raises(ValueError, match="missing"):
        shared_counters.catalogue(*names[1:])
    with pytest.raises(ValueError, match="twice"):
        shared_counters.catalogue(*names, names[0])
    with pytest.raises(ValueError, match="shared counter"):
        shared_counters.catalogue(*names[1:], (names[0], "bytes", "own"))


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_counter_modules_import_nothing_but_each_other():
    assert _imports(ENGINES / "pe_array" / "counters.py", False) == {"__future__"}
    for arch in ("eie", "dense"):
        assert _imports(ENGINES / arch / "counters.py", False) == {
            "__future__", "eie_sim.engines.pe_array.counters"}


# --------------------------------------------------------------------------- layering
def test_the_dense_baseline_imports_nothing_from_eie():
    for path in (ENGINES / "dense").rglob("*.py"):
        borrowed = {m for m in _imports(path, False) if m.startswith("eie_sim.engines.eie")}
        assert not borrowed, (path.name, borrowed)


def test_the_substrate_imports_neither_machine():
    for path in (ENGINES / "pe_array").rglob("*.py"):
        machines = {m for m in _imports(path, False)
                    if m.startswith(("eie_sim.engines.eie", "eie_sim.engines.dense"))}
        assert not machines, (path.name, machines)


def test_fast_engines_load_no_simpy():
    code = ("import sys\nimport eie_sim.engines.eie.fast, eie_sim.engines.dense.fast\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'simpy'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# --------------------------------------------------------------------------- dense engines
DENSE_CASES = [
    # (n_out, n_in, weight density, bias, config fields)
    (10, 12, 0.5, True, {"num_pes": 3}),
    (37, 20, 0.3, False, {"num_pes": 4, "act_regfile_entries": 4, "batch_swap_cycles": 2}),
    (9, 40, 1.0, True, {"num_pes": 2, "act_regfile_entries": 8, "batch_swap_cycles": 1,
                        "act_queue_depth": 2, "input_relu": False}),
    (16, 16, 0.2, True, {"num_pes": 16, "weights_from": "dram", "dram_bandwidth_gbps": 3.2}),
    (30, 25, 0.4, False, {"num_pes": 5, "act_regfile_entries": 2, "weights_from": "dram",
                          "dram_bandwidth_gbps": 0.4, "act_queue_depth": 1,
                          "act_queue_model": "counter"}),
    (1, 5, 1.0, False, {"num_pes": 1}),
]


@pytest.mark.parametrize("case", DENSE_CASES)
def test_dense_des_equals_dense_fast_equals_reference(case):
    n_out, n_in, density, with_bias, fields = case
    rng = np.random.default_rng(n_out * 100 + n_in)
    w = rng.normal(size=(n_out, n_in)) * (rng.random((n_out, n_in)) < density)
    bias = rng.normal(size=n_out) if with_bias else None
    layer = QuantizedLayer.from_dense("d", w, bias)
    x = (rng.integers(-3 * ONE, 3 * ONE, size=n_in) * (rng.random(n_in) < 0.6)).astype(np.int16)
    config = DenseConfig(**fields)
    d = dense_des.run_layer(layer, x, config)
    f = dense_fast.run_layer(layer, x, config)
    assert list(d.counts) == list(f.counts) == list(dense_counters.COUNTERS)
    assert (d.cycles, d.segment_cycles, d.counts) == (f.cycles, f.segment_cycles, f.counts)
    for name in ("unit_busy", "unit_stall", "unit_idle", "outputs"):
        np.testing.assert_array_equal(getattr(d, name), getattr(f, name))
    expected = reference_forward(layer, x, input_relu=config.input_relu)
    np.testing.assert_array_equal(d.outputs, expected)
    np.testing.assert_array_equal(d.unit_busy + d.unit_stall + d.unit_idle,
                                  np.full(config.num_pes, d.cycles))
