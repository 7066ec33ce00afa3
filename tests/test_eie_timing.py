"""Timing gates of the EIE cycle model (ramulator2 style), run on both engines.

Every test builds a tiny layer whose cycle count follows by hand from the model of
docs/MODEL.md and asserts it exactly. The recurrence used in the derivations (broadcast ``b``,
queue capacity ``C``, PE ``k``)::

    T_b    = P_{b-1} + 1 + adv_b                first cycle the CCU tries broadcast b
    P_b    = max(T_b, max_k S_k(b - C))         push cycle
    S_k(b) = max(F_k(b-1) + 1, P_b + 2)         first issue cycle
    F_k(b) = S_k(b) + max(1, entries) - 1       last issue cycle
    cycles = max(last scan slot, last real write, max_k S_k(B-1) - 1) + 1
                                                the last real write lands 5 cycles after the
                                                last issue of a non-empty slice; S_k(B-1) - 1
                                                is PE k's pop of the last broadcast

Gates on the activation queue itself are probed one cycle early (must be refused) and exactly on
time (must be accepted) on the SimPy ``ActivationQueue``.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from eie_sim.config import EIEConfig
from eie_sim.engines.eie import des as eie_des
from eie_sim.engines.eie.common import prepare, zero_counts
from eie_sim.engines.eie.des.lnzd import LeadingNonZeroDetect
from eie_sim.engines.pe_array.des.act_queue import ActivationQueue
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import reference_forward
from eie_sim.simulate import simulate

ENGINES = ("des", "fast")
ONE = 256  # 1.0 in the Q7.8 activation format


def matrix(n_out: int, columns: list[list[int]], value: float = 1.0) -> np.ndarray:
    """Dense float weights: column ``j`` is non-zero (``value``) exactly at rows ``columns[j]``."""
    w = np.zeros((n_out, len(columns)))
    for j, rows in enumerate(columns):
        w[rows, j] = value
    return w


def run(engine: str, weights: np.ndarray, x, bias=None, **cfg):
    """Simulate one layer (1 PE unless ``num_pes`` is given); check the invariants every run must
    satisfy; return the LayerResult."""
    layer = QuantizedLayer.from_dense("t", weights, bias)
    cfg.setdefault("num_pes", 1)
    config = EIEConfig(sram_capacity="unbounded", **cfg)
    x = np.asarray(x, dtype=np.int16)
    res = simulate(config, layer, engine=engine, inputs=x).layers[0]
    np.testing.assert_array_equal(res.outputs,
                                  reference_forward(layer, x, input_relu=config.input_relu))
    total = res.unit_busy_cycles + res.unit_stall_cycles + res.unit_idle_cycles
    np.testing.assert_array_equal(total, np.full(config.num_pes, res.cycles))
    assert res.cycles == sum(res.segment_cycles) + (len(res.segment_cycles) - 1) * (
        config.batch_swap_cycles)
    return res


# --------------------------------------------------------------------------- latency
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("num_pes", [1, 4])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_single_activation_with_k_entries_per_pe_takes_8_plus_k(engine, num_pes, k):
    # Only the last lane is non-zero: one selection in cycle 1 and no group-advance cycle.
    n = num_pes
    cols = [[] for _ in range(n - 1)] + [list(range(n * k))]
    x = [0] * (n - 1) + [ONE]
    res = run(engine, matrix(n * k, cols), x, num_pes=n)
    assert res.cycles == 8 + k
    assert res.segment_cycles == [8 + k]
    np.testing.assert_array_equal(res.unit_busy_cycles, [k] * n)
    np.testing.assert_array_equal(res.unit_stall_cycles, [0] * n)
    assert res.counts["pe.arith.mac"] == n * k
    assert res.counts["ccu.broadcast"] == 1
    assert res.counts["ccu.stall"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_layer_of_one_empty_column_ends_one_cycle_after_the_pop(engine):
    # Found and pushed at 1, popped (pointer read) at 2; the empty slice writes nothing and adds
    # no drain, so the layer ends one cycle after the pop: 3 cycles. The slice's own cycle (3)
    # falls after the end and is not counted as work.
    res = run(engine, np.zeros((3, 1)), [ONE])
    assert res.cycles == 3
    np.testing.assert_array_equal(res.unit_busy_cycles, [0])
    np.testing.assert_array_equal(res.unit_idle_cycles, [3])
    assert res.counts["pe.weight_decoder.lookup"] == 0
    assert res.counts["pe.ptr_sram.read"] == 2


# --------------------------------------------------------------------------- end of a layer
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [1, 4])
def test_an_empty_last_slice_in_the_critical_pe_adds_no_drain(engine, n):
    # 1 PE: column 0 has n entries (issued 3 .. n+2, last write lands at n+7), column 1 is
    # empty (popped at n+2). The end is set by the last real write: n+8 cycles, exactly as if
    # column 1's activation were zero.
    w = matrix(n, [list(range(n)), []])
    with_empty = run(engine, w, [ONE, ONE])
    without = run(engine, w, [ONE, 0])
    assert with_empty.cycles == without.cycles == n + 8
    assert with_empty.counts["ccu.broadcast"] == 2


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("m,cycles,busy", [(5, 12, 9), (6, 12, 9), (7, 13, 10)])
def test_the_last_pop_sets_the_end_only_from_when_it_is_the_latest_event(engine, m, cycles,
                                                                         busy):
    # 1 PE, n = 4 entries in column 0 (last write lands at 11), then m empty columns, all
    # broadcast one per cycle (queue deep enough not to stall). Empty slice b is popped at
    # n + 1 + b = 5 + b. The last pop is one cycle early (m = 5: pop 10 < 11), exactly on time
    # (m = 6: pop 11 = 11) or one cycle late (m = 7: pop 12): the end is the later of the two,
    # plus one. An empty slice whose cycle falls after the end is not work.
    n = 4
    w = matrix(n, [list(range(n))] + [[] for _ in range(m)])
    res = run(engine, w, [ONE] * (1 + m), act_queue_depth=16)
    assert res.cycles == cycles
    assert res.counts["ccu.stall"] == 0
    np.testing.assert_array_equal(res.unit_busy_cycles, [busy])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [1, 3])
def test_an_empty_bias_column_ends_like_no_bias_and_a_real_one_adds_its_entry(engine, n):
    w = matrix(n, [list(range(n))])
    no_bias = run(engine, w, [ONE])
    zero_bias = run(engine, w, [ONE], bias=np.zeros(n))
    assert zero_bias.counts["ccu.broadcast"] == 2  # the (empty) bias column is broadcast
    assert no_bias.cycles == zero_bias.cycles == n + 8
    bias = np.zeros(n)
    bias[-1] = 1.0
    real_bias = run(engine, w, [ONE], bias=bias)
    assert real_bias.cycles == n + 9  # one bias entry right after the last weight


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n,m", [(2, 1), (3, 2), (6, 4)])
def test_empty_column_slice_costs_exactly_one_cycle(engine, n, m):
    # 1 PE, columns: n entries, empty, m entries; broadcasts pushed at 1, 2, 3.
    # S = 3, n+3, n+4; last issue n+m+3 -> n+m+9 cycles. Without the empty column (its input
    # zero) the third column starts at n+3: exactly one cycle less.
    cols = [list(range(n)), [], list(range(m))]
    w = matrix(max(n, m), cols)
    with_empty = run(engine, w, [ONE, ONE, ONE])
    without = run(engine, w, [ONE, 0, ONE])
    assert with_empty.cycles == n + m + 9
    assert without.cycles == n + m + 8
    np.testing.assert_array_equal(with_empty.unit_busy_cycles, [n + 1 + m])
    np.testing.assert_array_equal(without.unit_busy_cycles, [n + m])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [1, 3, 7])
def test_slice_of_n_entries_occupies_the_pe_for_n_cycles(engine, n):
    m = 4
    w = matrix(8, [list(range(m)), list(range(n))])
    first_only = run(engine, w, [ONE, 0])
    both = run(engine, w, [ONE, ONE])
    assert first_only.cycles == m + 8
    assert both.cycles == m + n + 8  # second slice starts right after the first: adds n
    assert both.cycles - first_only.cycles == n
    np.testing.assert_array_equal(both.unit_busy_cycles, [m + n])
    assert both.counts["ccu.stall"] == 0


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("num_pes", [1, 3])
def test_empty_slice_of_one_pe_does_not_delay_the_others(engine, num_pes):
    # PE 0 owns the only entries; the other PEs spend one cycle on each of their empty slices.
    n = num_pes
    rows = [n * i for i in range(5)]
    res = run(engine, matrix(5 * n, [rows]), [ONE], num_pes=n)
    assert res.cycles == 8 + 5
    np.testing.assert_array_equal(res.unit_busy_cycles, [5] + [1] * (n - 1))


# --------------------------------------------------------------------------- padding
@pytest.mark.parametrize("engine", ENGINES)
def test_padding_entries_cost_cycles(engine):
    # Row 40 with 4-bit z: 40 zeros before it = 2 padding entries (16 rows each) + z = 8.
    w = matrix(41, [[40]])
    res = run(engine, w, [ONE])
    assert res.cycles == 8 + 3
    assert res.counts["pe.arith.padding"] == 2
    assert res.counts["pe.arith.mac"] == 1
    assert res.counts["pe.weight_decoder.lookup"] == 3
    assert res.counts["pe.dest_regfile.write"] == 1  # padding passes through without a write
    np.testing.assert_array_equal(res.unit_busy_cycles, [3])
    assert res.outputs[40] == ONE
    # An 8-bit z reaches row 40 directly: no padding, one cycle per real entry.
    wide = run(engine, w, [ONE], relative_index_bits=8, spmat_sram_width_bits=96)
    assert wide.cycles == 8 + 1
    assert wide.counts["pe.arith.padding"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_padding_with_one_bit_relative_index(engine):
    # z of 1 bit: a padding entry covers 2 rows. Row 5 -> gap 5 = 2 paddings + z = 1.
    w = matrix(6, [[5]])
    res = run(engine, w, [ONE], relative_index_bits=1, spmat_sram_width_bits=60)
    assert res.counts["pe.arith.padding"] == 2
    assert res.cycles == 8 + 3


# --------------------------------------------------------------------------- queue full
L_LONG = 10


def stall_layer(long: int = L_LONG) -> np.ndarray:
    """2 PEs, 4 columns: column 0 has ``long`` entries on PE 0 and 1 on PE 1; columns 1-3 have
    one entry on each PE."""
    pe0_rows = [2 * i for i in range(long)]
    cols = [pe0_rows + [1], [0, 1], [0, 1], [0, 1]]
    return matrix(2 * long, [sorted(c) for c in cols])


QUEUE_CAPACITY_1 = [
    pytest.param({"act_queue_depth": 2, "act_queue_model": "circular"}, id="circular-depth2"),
    pytest.param({"act_queue_depth": 1, "act_queue_model": "counter"}, id="counter-depth1"),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("queue", QUEUE_CAPACITY_1)
def test_full_queue_stalls_the_broadcast_for_exactly_the_right_cycles(engine, queue):
    # Capacity 1, L = 10. Attempts / pushes (T, P):
    #   b0: (1, 1);  S = 3, 3;          F = L+2, 3
    #   b1: (2, 3)   waits for both pops of b0 (S - 1 = 2) -> free at 3
    #       S = L+3, 5;                 F = L+3, 5
    #   b2: (4, L+3) waits for PE 0's pop of b1 at L+2
    #       S = L+5, L+5
    #   b3: (L+4, L+5); S = L+7 -> last write L+12 -> L+13 cycles.
    big = L_LONG
    res = run(engine, stall_layer(), [ONE] * 4, num_pes=2, **queue)
    assert res.counts["ccu.stall"] == 1 + (big - 1) + 1
    assert res.cycles == big + 13
    np.testing.assert_array_equal(res.unit_busy_cycles, [big + 3, 4])
    # PE 1 waits 1 + (L-1) + 1 cycles for activations that PE 0's full queue held back.
    np.testing.assert_array_equal(res.unit_stall_cycles, [2, big + 1])
    np.testing.assert_array_equal(res.unit_idle_cycles, [8, 8])  # cycles 0-2 and the 5 drain


@pytest.mark.parametrize("engine", ENGINES)
def test_deep_queue_absorbs_the_imbalance(engine):
    # Same layer, capacity 16: pushes at 1, 2, 3, 4; PE 0 issues back to back from 3 to L+5.
    big = L_LONG
    res = run(engine, stall_layer(), [ONE] * 4, num_pes=2, act_queue_depth=16,
              act_queue_model="counter")
    assert res.counts["ccu.stall"] == 0
    assert res.cycles == big + 11
    np.testing.assert_array_equal(res.unit_stall_cycles, [0, 0])


@pytest.mark.parametrize("engine", ENGINES)
def test_capacity_two_queue_stall(engine):
    # Capacity 2 (circular depth 3): b2 waits for the pops of b0 (cycle 2 -> free at 3; T2 = 3,
    # no stall); b3 waits for PE 0's pop of b1 at L+2 -> P3 = L+3, T3 = 4: stall L-1.
    # S(b3) = max(F(b2)+1, L+5) = L+5 on both PEs -> L+10 last write -> L+11 cycles.
    big = L_LONG
    res = run(engine, stall_layer(), [ONE] * 4, num_pes=2, act_queue_depth=3)
    assert res.counts["ccu.stall"] == big - 1
    assert res.cycles == big + 11


def pop_when_visible(q: ActivationQueue):
    """SimPy sub-process of a consumer: wait for the head to be visible, pop it.

    Returns the popped ``(push_cycle, attempt_cycle, column, value)``, or None once the queue
    is closed and empty."""
    head = yield from q.wait_head()
    if head is None:
        return None
    return q.pop()


def test_queue_refuses_a_push_in_the_cycle_of_a_pop_and_accepts_it_one_cycle_later():
    env = simpy.Environment()
    q = ActivationQueue(env, capacity=1, counts=zero_counts())
    q.open()
    log: dict[str, object] = {}

    def consumer():
        yield env.timeout(1)
        log["before_pop"] = q.has_room()  # same cycle, pop not yet done: still full
        item = yield from pop_when_visible(q)
        log["pop_cycle"] = env.now
        log["item"] = item
        log["after_pop_same_cycle"] = q.has_room()  # slot frees only next cycle
        yield env.timeout(1)
        log["next_cycle"] = (env.now, q.has_room())

    q.push(0, 7, 99)  # cycle 0
    assert not q.has_room()  # capacity 1, occupied
    env.process(consumer())
    env.run()
    assert log["pop_cycle"] == 1
    assert log["item"] == (0, 0, 7, 99)
    assert log["before_pop"] is False
    assert log["after_pop_same_cycle"] is False
    assert log["next_cycle"] == (2, True)


def test_queue_capacity_two_gate_counts_the_slot_popped_this_cycle():
    env = simpy.Environment()
    q = ActivationQueue(env, capacity=2, counts=zero_counts())
    q.open()
    q.push(0, 0, 1)
    assert q.has_room()
    q.push(0, 1, 1)
    assert not q.has_room()
    seen = []

    def consumer():
        yield env.timeout(3)
        yield from pop_when_visible(q)
        seen.append((env.now, q.has_room()))  # one entry left + one slot freeing: full
        yield env.timeout(1)
        seen.append((env.now, q.has_room()))

    env.process(consumer())
    env.run()
    assert seen == [(3, False), (4, True)]


def test_queue_entry_pushed_at_t_is_poppable_at_t_plus_1_not_at_t():
    env = simpy.Environment()
    counts = zero_counts()
    q = ActivationQueue(env, capacity=4, counts=counts)
    q.open()
    popped = []

    def producer():
        yield env.timeout(5)
        q.push(5, 3, 42)
        item = yield from pop_when_visible(q)  # same cycle as the push
        popped.append((env.now, item))

    env.process(producer())
    env.run()
    assert popped == [(6, (5, 5, 3, 42))]
    assert counts["pe.act_queue.push"] == counts["pe.act_queue.pop"] == 1


def test_queue_get_waits_for_a_later_push_and_returns_none_when_closed():
    env = simpy.Environment()
    q = ActivationQueue(env, capacity=1, counts=zero_counts())
    q.open()
    got = []

    def consumer():
        while True:
            item = yield from pop_when_visible(q)
            got.append((env.now, item))
            if item is None:
                return

    def producer():
        yield env.timeout(4)
        q.push(4, 0, 5)
        yield env.timeout(3)
        q.close()

    env.process(consumer())
    env.process(producer())
    env.run()
    assert got == [(5, (4, 4, 0, 5)), (7, None)]


def test_broadcast_is_atomic(monkeypatch):
    # Record every push per queue: each broadcast reaches all queues in one and the same cycle,
    # the hand-derived push cycle P_b, even when one queue had room earlier.
    pushes: list[tuple[int, int, int]] = []
    original = ActivationQueue.push

    def recording_push(self, attempt_cycle, column, value):
        pushes.append((id(self), column, self.env.now))
        return original(self, attempt_cycle, column, value)

    monkeypatch.setattr(ActivationQueue, "push", recording_push)
    layer = QuantizedLayer.from_dense("t", stall_layer())
    config = EIEConfig(num_pes=2, act_queue_depth=2, sram_capacity="unbounded")
    x = np.full(4, ONE, dtype=np.int16)
    run_ = eie_des.run_layer(layer, x, config, prepare(layer, config))
    assert len({q for q, _, _ in pushes}) == 2
    by_column: dict[int, list[tuple[int, int]]] = {}
    for q, col, cycle in pushes:
        by_column.setdefault(col, []).append((q, cycle))
    assert sorted(by_column) == [0, 1, 2, 3]
    big = L_LONG
    expected = {0: 1, 1: 3, 2: big + 3, 3: big + 5}
    for col, got in by_column.items():
        assert len({q for q, _ in got}) == 2, f"column {col} missed a queue"
        assert {c for _, c in got} == {expected[col]}, f"column {col} pushes {got}"
    assert run_.cycles == big + 13


# --------------------------------------------------------------------------- bypass
@pytest.mark.parametrize("engine", ENGINES)
def test_bypass_on_adjacent_updates_of_one_accumulator(engine):
    # 1 PE. Column 0: rows 0-3 (0.5), issued 3-6; column 1: row 3 (0.25), issued at 7.
    # Row 3 is updated at 6 and 7: the bypass forwards it, no stall.
    w = np.zeros((4, 2))
    w[0:4, 0] = 0.5
    w[3, 1] = 0.25
    res = run(engine, w, [ONE, 2 * ONE])
    assert res.counts["pe.arith.bypass"] == 1
    assert res.counts["pe.arith.mac"] == 5
    assert res.counts["pe.dest_regfile.read"] == 4
    assert res.counts["pe.dest_regfile.write"] == 5
    assert res.counts["ccu.stall"] == 0
    assert res.cycles == 4 + 1 + 8  # as without a bypass: adjacent issue, no bubble
    np.testing.assert_array_equal(res.unit_stall_cycles, [0])
    # 0.5 * 1.0 on rows 0-2; 0.5 * 1.0 + 0.25 * 2.0 = 1.0 on row 3 (Q7.8).
    np.testing.assert_array_equal(res.outputs, [128, 128, 128, 256])


@pytest.mark.parametrize("engine", ENGINES)
def test_no_bypass_when_the_next_slice_starts_on_another_row(engine):
    w = np.zeros((4, 2))
    w[0:4, 0] = 0.5
    w[2, 1] = 0.25
    res = run(engine, w, [ONE, 2 * ONE])
    assert res.counts["pe.arith.bypass"] == 0
    assert res.counts["pe.dest_regfile.read"] == 5
    np.testing.assert_array_equal(res.outputs, [128, 128, 256, 128])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("first_rows,bypass", [([3], 0), ([2, 3], 1)])
def test_bypass_needs_adjacent_issue_cycles(engine, first_rows, bypass):
    # Inputs [1, 0, 2]: pushes at 1 and 3 (the zero group costs cycle 2). Column 2 (row 3)
    # issues at 5. Column 0 with one entry issues at 3 (gap of a cycle: no bypass); with rows
    # 2, 3 it issues 3-4 and row 3 at 4 is adjacent to 5: bypass.
    w = np.zeros((4, 3))
    w[first_rows, 0] = 0.5
    w[3, 2] = 0.25
    res = run(engine, w, [ONE, 0, 2 * ONE])
    assert res.counts["pe.arith.bypass"] == bypass
    assert res.outputs[3] == 256
    assert res.cycles == 5 + 5 + 1


@pytest.mark.parametrize("engine", ENGINES)
def test_no_bypass_across_an_empty_slice(engine):
    # Column 1 is empty for the PE: its one cycle sits between rows 3 and 3.
    w = np.zeros((4, 3))
    w[0:4, 0] = 0.5
    w[3, 2] = 0.25
    res = run(engine, w, [ONE, ONE, 2 * ONE])
    assert res.counts["pe.arith.bypass"] == 0
    assert res.cycles == 4 + 1 + 1 + 8


# --------------------------------------------------------------------------- LNZD
GROUPS = [
    # (group of 4 activations in units of 1.0, input_relu, cycles the group costs)
    ([0, 0, 0, 0], True, 1),
    ([1, 0, 0, 0], True, 2),
    ([1, 1, 0, 0], True, 3),
    ([0, 1, 0, 1], True, 2),
    ([0, 0, 0, 1], True, 1),
    ([1, 0, 1, 1], True, 3),
    ([1, 1, 1, 1], True, 4),
    ([-1, 0, 0, 1], True, 1),
    ([-1, 0, 0, 1], False, 2),
    ([1, -1, 0, 0], True, 2),
    ([1, -1, 0, 0], False, 3),
    ([1, 1, 1, -1], True, 4),
    ([1, 1, 1, -1], False, 4),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("group,relu,cost", GROUPS)
def test_lnzd_group_cost(engine, group, relu, cost):
    # 4 PEs; the group under test (empty columns) is followed by a marker group whose last lane
    # holds one entry per PE. The marker is pushed at 1 + cost and written 7 cycles later:
    # cycles = cost + 9.
    cols = [[], [], [], [], [], [], [], [0, 1, 2, 3]]
    x = [ONE * a for a in group] + [0, 0, 0, ONE]
    res = run(engine, matrix(4, cols), x, num_pes=4, input_relu=relu)
    selected = sum(1 for a in group if (a > 0 if relu else a != 0))
    assert res.cycles == cost + 9
    assert res.counts["lnzd.select"] == selected + 1
    assert res.counts["lnzd.advance"] == cost - selected
    assert res.counts["ccu.broadcast"] == selected + 1


@pytest.mark.parametrize("engine", ENGINES)
def test_partial_last_group_reads_missing_lanes_as_zero(engine):
    # 5 inputs on 4 PEs: group 1 has lanes 1-3 missing, so its last lane is zero and it costs
    # an advance cycle after the selection.
    cols = [[], [], [], [], [0, 1, 2, 3]]
    res = run(engine, matrix(4, cols), [0, 0, 0, 0, ONE], num_pes=4)
    assert res.counts["lnzd.advance"] == 2
    assert res.cycles == 2 + 2 + 5 + 1  # pushed at 2, issue 4, write 9


@pytest.mark.parametrize("engine", ["fast"])
@pytest.mark.parametrize("n_in,groups", [(4, 1), (12, 3), (9, 3), (20, 5)])
def test_all_zero_input_costs_one_cycle_per_group(engine, n_in, groups):
    # Nothing is broadcast and nothing is written: the pass ends with the scan's last slot.
    res = run(engine, np.ones((4, n_in)), np.zeros(n_in), num_pes=4)
    assert res.cycles == groups + 1
    assert res.counts["ccu.broadcast"] == 0
    assert res.counts["lnzd.advance"] == groups
    np.testing.assert_array_equal(res.unit_busy_cycles, [0] * 4)
    np.testing.assert_array_equal(res.outputs, [0] * 4)


@pytest.mark.parametrize("n_in", [4, 12])
def test_all_zero_short_input_des(n_in):
    # A pass with no broadcast ends with the scan's last slot (regression: the DES once
    # drained from a phantom issue at start - 1).
    res = run("des", np.ones((4, n_in)), np.zeros(n_in), num_pes=4)
    assert res.cycles == n_in // 4 + 1


@pytest.mark.parametrize("engine", ENGINES)
def test_all_zero_input_long_enough_that_both_engines_agree(engine):
    # 5 groups, nothing broadcast: the pass ends with the scan's last slot.
    res = run(engine, np.ones((4, 20)), np.zeros(20), num_pes=4)
    assert res.cycles == 6


def test_lnzd_quadtree_has_21_nodes_for_64_lanes():
    tree = LeadingNonZeroDetect(64)
    assert tree.levels == [16, 4, 1]
    assert tree.nodes == 21
    assert LeadingNonZeroDetect(16).nodes == 5
    assert LeadingNonZeroDetect(4).nodes == 1


@pytest.mark.parametrize("lanes", [1, 4, 5, 16, 64])
def test_lnzd_selects_non_zero_lanes_in_increasing_order(lanes):
    tree = LeadingNonZeroDetect(lanes)
    rng = np.random.default_rng(1602 + lanes)
    masks = [np.zeros(lanes, bool), np.ones(lanes, bool)]
    masks += [rng.random(lanes) < d for d in (0.05, 0.3, 0.5, 0.9) for _ in range(5)]
    for mask in masks:
        assert tree.select(mask.tolist()) == np.flatnonzero(mask).tolist()


# --------------------------------------------------------------------------- bias
@pytest.mark.parametrize("engine", ENGINES)
def test_bias_column_is_one_broadcast_after_the_last_group(engine):
    # 4 PEs, one row each. Input [1, 0, 0, 0]: selection at 1, advance at 2, bias pushed at 3.
    # Column 0: issue 3; bias: issue max(4, 5) = 5, write 10 -> 11 cycles (9 without bias).
    w = matrix(4, [[0, 1, 2, 3], [], [], []], value=0.5)
    x = [ONE, 0, 0, 0]
    plain = run(engine, w, x, num_pes=4)
    biased = run(engine, w, x, bias=np.full(4, 0.25), num_pes=4)
    assert plain.cycles == 9
    assert biased.cycles == 11
    assert biased.counts["ccu.broadcast"] == plain.counts["ccu.broadcast"] + 1 == 2
    assert biased.counts["lnzd.select"] == plain.counts["lnzd.select"] == 1
    assert biased.counts["pe.arith.mac"] == 8
    # The bias is the activation 1.0 times the bias value: exactly 0.25 added.
    np.testing.assert_array_equal(plain.outputs, [128] * 4)
    np.testing.assert_array_equal(biased.outputs, [128 + 64] * 4)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("k,kb", [(1, 1), (3, 2)])
def test_bias_slice_queues_behind_the_last_column(engine, k, kb):
    # 1 PE, input [1]: column 0 issues 3..k+2, bias (kb rows) k+3..k+kb+2 -> k + kb + 8 cycles.
    w = matrix(max(k, kb), [list(range(k))])
    bias = np.zeros(max(k, kb))
    bias[:kb] = 1.0
    res = run(engine, w, [ONE], bias=bias)
    assert res.cycles == k + kb + 8
    np.testing.assert_array_equal(res.unit_busy_cycles, [k + kb])


@pytest.mark.parametrize("engine", ENGINES)
def test_bias_alone_on_all_zero_input(engine):
    # 2 PEs, one row each, input [0]: the group (lane 1 missing) advances at 1, the bias is
    # pushed at 2, issued at 4, written at 9 -> 10 cycles.
    res = run(engine, np.zeros((2, 1)), [0], bias=np.array([1.5, -2.0]), num_pes=2)
    assert res.cycles == 10
    assert res.counts["ccu.broadcast"] == 1
    assert res.counts["lnzd.select"] == 0
    np.testing.assert_array_equal(res.outputs, [384, -512])


# --------------------------------------------------------------------------- passes, swaps
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("swap", [0, 1, 3])
def test_multi_pass_cycles_are_the_sum_of_pass_cycles(engine, swap):
    # 1 PE, 100 rows, one dense column: pass 0 holds 64 rows (64 + 8 cycles), pass 1 holds 36
    # (36 + 8); the passes are separated by the swap.
    w = matrix(100, [list(range(100))])
    res = run(engine, w, [ONE], batch_swap_cycles=swap)
    assert res.segment_cycles == [72, 44]
    assert res.cycles == 72 + 44 + swap
    assert res.counts["ccu.broadcast"] == 2
    assert res.counts["pe.src_regfile.read"] == 2
    assert res.counts["pe.act_sram.write"] == 100
    assert res.counts["pe.dest_regfile.read"] == 100 + 100
    np.testing.assert_array_equal(res.unit_idle_cycles, [res.cycles - 100])
    np.testing.assert_array_equal(res.outputs, [ONE] * 100)


@pytest.mark.parametrize("engine", ENGINES)
def test_small_register_file_gives_one_pass_per_block_of_rows(engine):
    # 2 PEs, 3 accumulators each, 14 rows: PE 0 owns 7 rows -> 3 passes of 3, 3, 1 local rows.
    # Pass p: the column has 3, 3, 1 entries on PE 0 (3, 3, 1 on PE 1) -> 11, 11, 9 cycles.
    w = matrix(14, [[], list(range(14))])
    res = run(engine, w, [0, ONE], num_pes=2, act_regfile_entries=3)
    # Input [0, 1]: lane 1 selected at 1 (last lane, no advance) -> 8 + k per pass.
    assert res.segment_cycles == [11, 11, 9]
    assert res.cycles == 31


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("swap", [0, 1, 3])
def test_batch_swap_between_input_batches(engine, swap):
    # 1 PE, 4-word register files: inputs are scanned in batches of 4, a swap before inputs 4
    # and 8. Zeros at 0-7 take cycles 1-8, input 8 is pushed at 9 + 2*swap and written 7 later.
    w = matrix(1, [[]] * 8 + [[0]])
    x = [0] * 8 + [ONE]
    res = run(engine, w, x, act_regfile_entries=4, batch_swap_cycles=swap)
    assert res.cycles == 17 + 2 * swap
    assert res.segment_cycles == [17 + 2 * swap]
    assert res.counts["pe.act_sram.read"] == 9  # 9 inputs > 1 x 4 live in the activation SRAM


@pytest.mark.parametrize("engine", ENGINES)
def test_per_pe_busy_stall_idle_sum_to_cycles_in_a_multi_pass_stalled_run(engine):
    # 2 PEs, capacity 1, 2 passes, swaps: every cycle of every PE is counted exactly once.
    w = np.vstack([stall_layer(), stall_layer()])  # 40 rows: 20 per PE, 16 per pass -> 2 passes
    res = run(engine, w, [ONE] * 4, num_pes=2, act_queue_depth=2, act_regfile_entries=16,
              batch_swap_cycles=2)
    assert len(res.segment_cycles) == 2
    assert res.counts["ccu.stall"] > 0
    np.testing.assert_array_equal(
        res.unit_busy_cycles + res.unit_stall_cycles + res.unit_idle_cycles, [res.cycles] * 2)
