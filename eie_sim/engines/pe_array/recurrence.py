"""The PE array's broadcast recurrence as max-plus arithmetic: what both fast engines solve.

For broadcast ``b`` (in scan order) of a pass, with ``C`` the queue capacity:

* ``T_b = P_{b-1} + 1 + adv_b``: the cycle the CCU first tries it (``adv_b`` = the scan's
  non-broadcast cycles and batch swaps since the previous broadcast; ``P_{-1} = 0``);
* ``P_b = max(T_b, max_k S_k(b - C))``: the push waits until every PE has popped broadcast
  ``b - C`` (it pops in cycle ``S_k - 1``; the slot is free one cycle later);
* ``S_k(b) = max(F_k(b-1) + 1, P_b + 2, ready_b)``, ``F_k(b) = S_k(b) + W_k(b) - 1``: first and
  last issue cycle of PE ``k``, with ``W`` the cycles the column occupies the PE and ``ready``
  the DRAM stream's ready cycle (if the weights stream).

Given the queue gates, the ``P`` and ``F`` recurrences are prefix maxima
(``np.maximum.accumulate``); the gates are solved window by window from lower bounds, each window
verified and kept up to the first broadcast a raised gate would delay (see
:func:`broadcast_recurrence_numpy`), so the Python loop runs about once per queue stall that
delays a broadcast (at most ``B / C`` times), each step vectorised over all passes and PEs.
Passes are independent (each starts from cycle 0), so they are one more array axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie_sim import accel
from eie_sim.engines.pe_array.timing import ISSUE_TO_WRITE, POP_TO_ISSUE, PUSH_TO_ISSUE

#: Initial lower bound of a queue gate (no constraint), far from int64 overflow.
_NO_GATE = np.iinfo(np.int64).min // 4
#: Window of the first speculative step, in queue capacities.
_FIRST_WINDOW = 16
#: Largest window, in (passes x PEs x broadcasts) elements.
_MAX_WINDOW_ELEMENTS = 1 << 16


def broadcast_recurrence(
    work: np.ndarray, adv: np.ndarray, capacity: int, ready: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Push cycles ``P`` (passes, B), first/last issue cycles ``S``, ``F`` (passes, N, B) and
    the cycles each PE waited, per pass, for broadcasts a full queue held back (passes, N):
    the sum over broadcasts of ``max(F_prev + 1, P + 2) - max(F_prev + 1, attempt + 2)``, the
    first push attempt being ``P_prev + 1 + adv`` (``P_-1 = 0``, ``F_-1 = -1``).

    Parameters
    ----------
    work : numpy.ndarray of int64, shape (passes, N, B)
        Cycles ``W >= 1`` each broadcast occupies each PE.
    adv : numpy.ndarray of int64, shape (B,)
        Non-broadcast cycles before each broadcast (scan advances, batch swaps).
    capacity : int
        Activation queue capacity ``C`` (entries).
    ready : numpy.ndarray of int64, shape (passes, B), or None
        First cycle each broadcast's weights can issue (DRAM stream):
        ``S = max(F + 1, P + 2, ready)``.

    Stepped one broadcast at a time by the compiled loop when it runs
    (:mod:`eie_sim.accel`), else solved by :func:`broadcast_recurrence_numpy`.
    """
    if accel.kernels() is not None:
        return accel.recurrence(work, adv, capacity, PUSH_TO_ISSUE, ready)
    return broadcast_recurrence_numpy(work, adv, capacity, ready)


def broadcast_recurrence_numpy(
    work: np.ndarray, adv: np.ndarray, capacity: int, ready: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`broadcast_recurrence` in numpy (the window solver).

    With global prefix sums ``A = cumsum(1 + adv)`` and ``U = cumsum(W)`` the recurrences become
    running maxima once the queue gates ``G_b = max_k S_k(b - C)`` are known:
    ``P - A = max(P_prev - A_prev, G - A)`` and ``F - U = max(F_prev - U_prev, P + 1 - (U - W))``
    (one ``np.maximum.accumulate`` each). The gates are solved window by window from lower
    bounds (no gate at first): a window ``[lo, hi)`` is computed with the current bounds, which
    yields new bounds for the gates ``C`` broadcasts later. Up to the first broadcast whose new
    gate exceeds the push cycle just computed for it, the window satisfies every equation, so it
    is the exact (unique, causal) solution and is kept; the rest is recomputed from there with
    the raised bounds. Each step keeps at least ``C`` broadcasts (their gates come from kept
    ones), so it never does worse than stepping ``C`` at a time; the window doubles after a
    step that keeps everything and otherwise becomes the kept length plus half the window.
    """
    passes, n, b_total = work.shape
    u_all = np.cumsum(work, axis=2)
    uw_all = u_all - work  # U - W: work issued before each broadcast
    a_all = np.cumsum(1 + adv)
    a_less1 = a_all - 1
    # h = F - U starts from max(P, ready - PUSH) + PUSH - 1 - (U - W): fold the constant in.
    uw_less = uw_all - (PUSH_TO_ISSUE - 1)
    ready_push = None if ready is None else ready - PUSH_TO_ISSUE
    # gates[b] = G_b - 1 = max_k S_k(b - C) - 1, lower bounds until kept.
    gates = np.full((passes, b_total), _NO_GATE, dtype=np.int64)
    push = np.empty((passes, b_total), dtype=np.int64)
    h_all = np.empty((passes, n, b_total), dtype=np.int64)  # F - U
    q_prev = np.zeros(passes, dtype=np.int64)  # P - A of the last kept broadcast
    h_prev = np.full((passes, n), -1, dtype=np.int64)  # F - U of the last kept broadcast
    max_window = max(4 * capacity, _MAX_WINDOW_ELEMENTS // (passes * n))
    window = min(_FIRST_WINDOW * capacity, max_window)
    lo = 0
    while lo < b_total:
        hi = min(lo + window, b_total)
        q = gates[:, lo:hi] - a_less1[lo:hi]
        np.maximum(q[:, 0], q_prev, out=q[:, 0])
        np.maximum.accumulate(q, axis=1, out=q)
        p = q + a_all[lo:hi]
        start = p if ready_push is None else np.maximum(p, ready_push[:, lo:hi])
        h = h_all[:, :, lo:hi]
        np.subtract(start[:, None, :], uw_less[:, :, lo:hi], out=h)
        np.maximum(h[:, :, 0], h_prev, out=h[:, :, 0])
        np.maximum.accumulate(h, axis=2, out=h)
        new_gates = np.add(h, uw_all[:, :, lo:hi]).max(axis=1)  # S - 1 of the gate of b + C
        keep = hi - lo
        if keep > capacity:
            raised = (new_gates[:, : keep - capacity] >= p[:, capacity:]).any(axis=0)
            raised = np.flatnonzero(raised)
            if raised.size:
                keep = capacity + int(raised[0])
        stop = lo + keep
        push[:, lo:stop] = p[:, :keep]
        q_prev = q[:, keep - 1]
        h_prev = h[:, :, keep - 1]  # final: later steps write from ``stop`` on
        # Bounds for the gates from ``stop`` on (exact for [stop, stop + C)).
        t_end = min(hi + capacity, b_total)
        if t_end > stop:
            gates[:, stop:t_end] = new_gates[:, stop - lo - capacity : t_end - lo - capacity]
        window = min(2 * window, max_window) if stop == hi else max(capacity, keep + window // 2)
        lo = stop
    first = h_all + uw_all
    first += 1
    h_all += u_all
    return push, first, h_all, _held(push, h_all, adv)


def first_attempts(push: np.ndarray, adv: np.ndarray) -> np.ndarray:
    """Cycle of each broadcast's first push attempt: ``P_prev + 1 + adv`` (``P_-1 = 0``)."""
    attempt = np.concatenate([np.zeros((push.shape[0], 1), np.int64), push[:, :-1]], axis=1)
    attempt += 1 + adv[None, :]
    return attempt


def _held(push: np.ndarray, last: np.ndarray, adv: np.ndarray) -> np.ndarray:
    """Per (pass, PE): cycles spent waiting for broadcasts a full queue held back,
    ``max(F_prev + 1, P + 2) - max(F_prev + 1, attempt + 2)`` summed over broadcasts."""
    free = np.empty_like(last)  # F_prev + 1, F_-1 = -1
    free[:, :, 0] = 0
    np.add(last[:, :, :-1], 1, out=free[:, :, 1:])
    held = np.maximum(free, (push + PUSH_TO_ISSUE)[:, None, :])
    np.maximum(free, (first_attempts(push, adv) + PUSH_TO_ISSUE)[:, None, :], out=free)
    held -= free
    return held.sum(axis=2)


@dataclass
class Schedule:
    """Cycle-level outcome of one layer's broadcasts (all passes).

    Attributes
    ----------
    first, last : numpy.ndarray of int64, shape (passes, N, B)
        First and last issue cycle of each broadcast on each PE (from the pass's cycle 0).
    done : numpy.ndarray of int64, shape (passes,)
        Last cycle of each pass (the pass takes ``done + 1`` cycles).
    busy, stall : numpy.ndarray of int64, shape (N,)
        Per-PE busy and stall cycles over all passes.
    ccu_stall : int
        Cycles the broadcasts were held back by a full queue (``ccu.stall``).
    """

    first: np.ndarray
    last: np.ndarray
    done: np.ndarray
    busy: np.ndarray
    stall: np.ndarray
    ccu_stall: int


def schedule(
    work: np.ndarray, adv: np.ndarray, tail: int, capacity: int, ready: np.ndarray | None,
    writes: np.ndarray | None = None,
) -> Schedule:
    """Run the recurrence and derive pass ends and per-PE busy / stall cycles.

    ``work``, ``adv``, ``capacity`` and ``ready`` are those of :func:`broadcast_recurrence`;
    ``tail`` is the scan's cycles after the last broadcast; ``writes`` (bool, shape of
    ``work``; default all true) says which column slices write an accumulator (an empty slice
    writes nothing). A pass ends (docs/MODEL.md §End of a layer) when the scan is over, the last
    accumulator write has landed (``ISSUE_TO_WRITE`` cycles after the last issue of a writing
    slice) and every PE has popped the last broadcast; a last slice that writes nothing adds no
    drain, and its one cycle, if it falls after the end, is not part of the pass. A PE's wait
    for a broadcast is stall for the part a full queue caused (push later than first attempt).
    """
    push, first, last, held = broadcast_recurrence(work, adv, capacity, ready)
    attempt = first_attempts(push, adv)
    no_write = -ISSUE_TO_WRITE - 1
    last_write = (last.max(axis=(1, 2)) if writes is None else
                  last.max(axis=(1, 2), where=writes, initial=no_write))
    done = np.maximum.reduce([
        push[:, -1] + tail,
        last_write + ISSUE_TO_WRITE,
        first[:, :, -1].max(axis=1) - POP_TO_ISSUE,
    ])
    overshoot = np.maximum(last[:, :, -1] - done[:, None], 0).sum(axis=0)
    return Schedule(
        first=first,
        last=last,
        done=done,
        busy=work.sum(axis=(0, 2)) - overshoot,
        stall=held.sum(axis=0),
        ccu_stall=int((push - attempt).sum()),
    )
