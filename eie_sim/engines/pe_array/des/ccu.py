"""Central control unit (CCU), EIE paper §III and Fig. 4, with a pluggable scan policy.

The CCU reads the input activations from the source register files in groups of N, one lane per
PE (activation j in lane j mod N), and broadcasts the activations its *scan policy* picks from
each group to every PE's activation queue, one broadcast per cycle. EIE's policy is the leading
non-zero detection (:class:`eie_sim.engines.eie.des.lnzd.LeadingNonZeroDetect`: the group's
non-zeros, plus one cycle to move on when the group's last lane is zero); the dense baseline's is
:class:`EveryActivation`.

Timing (docs/MODEL.md §Scan and broadcast): the scan starts in cycle 1 (``SCAN_START_CYCLE``);
``batch_swap_cycles`` pause the scan between source-register-file batches. A broadcast is
atomic: it happens in a cycle in which *every* queue has room, otherwise the CCU stalls and
retries, so no PE ever receives an activation early. After the last group the bias column is
broadcast with the activation 1.0 (``2**weight_frac_bits``). With ``input_relu`` negative
activations read as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import simpy

from eie_sim.engines.pe_array.des.act_queue import ActivationQueue
from eie_sim.engines.pe_array.timing import SCAN_START_CYCLE


class ScanPolicy(Protocol):
    """Which activations of a group the CCU broadcasts, and the group's extra cycle."""

    def scan_group(self, lanes: list[int]) -> tuple[Sequence[int], bool]:
        """Scan one group of activations (after the input-side ReLU).

        Parameters
        ----------
        lanes : list of int
            The group's activations, lane by lane (fewer than N for a final partial group).

        Returns
        -------
        selected : sequence of int
            Lanes to broadcast, in broadcast order; each takes (at least) one cycle.
        advance : bool
            True when the group ends with one cycle without a broadcast (moving on).
        """
        ...


class EveryActivation:
    """The dense baseline's scan: every activation of the group, one per cycle, zero or not;
    no extra cycle between groups."""

    def scan_group(self, lanes: list[int]) -> tuple[Sequence[int], bool]:
        return range(len(lanes)), False


class CentralControlUnit:
    """Scans the input activations with ``policy`` and broadcasts them to the PEs' queues.

    Cycle contract: the first broadcast is tried in cycle ``SCAN_START_CYCLE``; each selected
    activation is one broadcast cycle (plus the cycles it waits for a full queue, counted in
    ``ccu.stall``); a policy's ``advance`` adds one cycle; ``batch_swap_cycles`` precede every
    batch of ``batch_activations`` activations but the first; the bias column is the last
    broadcast. ``last_slot_cycle`` is the last cycle the scan used.

    Parameters
    ----------
    env : simpy.Environment
    queues : list of ActivationQueue
        One per PE.
    counts : dict
        Shared counters (``ccu.broadcast``, ``ccu.stall``, ``pe.src_regfile.read``).
    policy : ScanPolicy
        Picks the activations of each group to broadcast.
    batch_activations : int
        Activations per source-register-file batch (N x register file entries).
    batch_swap_cycles : int
        Cycles the scan pauses between activation batches.
    """

    #: :class:`eie_sim.trace.LayerTrace` while a trace is recorded, else None (no cost)
    trace = None

    def __init__(
        self,
        env: simpy.Environment,
        queues: list[ActivationQueue],
        counts: dict[str, int],
        policy: ScanPolicy,
        *,
        batch_activations: int,
        batch_swap_cycles: int,
    ) -> None:
        self.env = env
        self.queues = queues
        self.counts = counts
        self.policy = policy
        self.batch_activations = batch_activations
        self.batch_swap_cycles = batch_swap_cycles
        self.last_slot_cycle = -1

    def scan(
        self,
        x: np.ndarray,
        input_relu: bool,
        bias_activation: int | None,
        bias_column: int,
        progress=None,
    ):
        """SimPy process: one pass over the input vector ``x`` (int16).

        The queues must be open (:meth:`ActivationQueue.open`) before the pass starts;
        ``progress(k)``, if given, is called after each group of ``k`` activations."""
        env, n = self.env, len(self.queues)
        yield env.timeout(SCAN_START_CYCLE)
        # The input-side ReLU acts on the activations as they leave the source register files.
        xs = [max(int(v), 0) for v in x] if input_relu else [int(v) for v in x]
        for g0 in range(0, len(xs), n):
            if g0 and g0 % self.batch_activations == 0 and self.batch_swap_cycles:
                yield env.timeout(self.batch_swap_cycles)
            lanes = xs[g0 : g0 + n]
            self.counts["pe.src_regfile.read"] += len(lanes)
            selected, advance = self.policy.scan_group(lanes)
            for lane in selected:
                yield from self._broadcast(g0 + lane, lanes[lane])
            if advance:
                self.last_slot_cycle = env.now
                yield env.timeout(1)
            if progress is not None:
                progress(len(lanes))
        if bias_activation is not None:
            yield from self._broadcast(bias_column, bias_activation)
        for q in self.queues:
            q.close()

    def _broadcast(self, column: int, value: int):
        """Atomic broadcast: wait for a cycle in which every queue has room, push to all."""
        env = self.env
        attempt = env.now
        while True:
            blocked = [q for q in self.queues if not q.has_room()]
            if not blocked:
                break
            if any(q.last_pop_cycle == env.now for q in blocked):
                yield env.timeout(1)  # a slot popped this cycle frees next cycle
            else:
                yield env.any_of([q.popped for q in blocked])
                yield env.timeout(1)
        self.counts["ccu.stall"] += env.now - attempt
        self.counts["ccu.broadcast"] += 1
        if self.trace is not None:
            self.trace.broadcast(attempt, env.now)
        self.last_slot_cycle = env.now
        for q in self.queues:
            q.push(attempt, column, value)
        yield env.timeout(1)
