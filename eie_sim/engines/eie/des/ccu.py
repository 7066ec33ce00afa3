"""Central control unit (CCU) and leading non-zero detection (LNZD), paper §III and Fig. 4.

The LNZD is a quadtree: each leaf watches 4 PEs' activations, each inner node 4 children,
the root is the CCU (21 nodes for 64 PEs). Activations are scanned in groups of N, one lane
per PE (activation j in lane j mod N); every cycle the tree selects the leading remaining
non-zero of the group. The CCU broadcasts each selection to every PE's activation queue.

Timing (docs/MODEL.md §Scan and broadcast): the scan starts in cycle 1; a group costs one cycle
per selected activation, plus one cycle to move to the next group when the group's last lane is
zero (an all-zero group costs one cycle); missing lanes of a final partial group read as zero.
A broadcast is atomic: it happens in a cycle in which *every* queue has room, otherwise the CCU
stalls and retries, so no PE ever receives an activation early. After the last group the bias
column is broadcast with the activation 1.0 (``2**weight_frac_bits``).
"""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim.engines.eie.common import SCAN_START_CYCLE
from eie_sim.engines.eie.des.act_queue import ActivationQueue


class LeadingNonZeroDetect:
    """The LNZD quadtree over ``num_lanes`` lanes.

    ``levels[0]`` has one leaf per 4 lanes; each further level groups 4 nodes, up to the root.
    """

    def __init__(self, num_lanes: int) -> None:
        self.num_lanes = num_lanes
        self.levels: list[int] = []
        width = num_lanes
        while True:
            width = -(-width // 4)
            self.levels.append(width)
            if width == 1:
                break

    @property
    def nodes(self) -> int:
        """Quadtree nodes (21 for 64 PEs)."""
        return sum(self.levels)

    def select(self, nonzero: list[bool]) -> list[int]:
        """Lanes the tree selects from one group, in selection order (leading first).

        Each selection walks the tree top-down along the first child whose subtree still has a
        non-zero; the selected lane is then cleared.
        """
        remaining = list(nonzero)
        # valid[l][i]: node i of level l has a remaining non-zero below it.
        valid = [[any(remaining[4 * i : 4 * i + 4]) for i in range(self.levels[0])]]
        for width in self.levels[1:]:
            below = valid[-1]
            valid.append([any(below[4 * i : 4 * i + 4]) for i in range(width)])
        out = []
        while valid[-1][0]:
            node = 0
            for level in range(len(self.levels) - 2, -1, -1):
                node = next(c for c in range(4 * node, 4 * node + 4) if valid[level][c])
            lane = next(ln for ln in range(4 * node, 4 * node + 4) if remaining[ln])
            out.append(lane)
            remaining[lane] = False
            # Refresh the valid bits on the path from the leaf to the root.
            idx = lane // 4
            valid[0][idx] = any(remaining[4 * idx : 4 * idx + 4])
            for level in range(1, len(self.levels)):
                idx //= 4
                valid[level][idx] = any(valid[level - 1][4 * idx : 4 * idx + 4])
        return out


class CentralControlUnit:
    """Scans the input activations through the LNZD and broadcasts them to the PEs' queues.

    Parameters
    ----------
    env : simpy.Environment
    queues : list of ActivationQueue
        One per PE.
    counts : dict
        Shared counters (``ccu.*``, ``lnzd.*``, ``pe.src_regfile.read``).
    batch_activations : int
        Activations per source-register-file batch (N x register file entries).
    batch_swap_cycles : int
        Cycles the scan pauses between activation batches.
    """

    def __init__(
        self,
        env: simpy.Environment,
        queues: list[ActivationQueue],
        counts: dict[str, int],
        *,
        batch_activations: int,
        batch_swap_cycles: int,
        detect_nonzeros: bool = True,
    ) -> None:
        self.env = env
        self.queues = queues
        self.counts = counts
        self.lnzd = LeadingNonZeroDetect(len(queues))
        self.batch_activations = batch_activations
        self.batch_swap_cycles = batch_swap_cycles
        self.detect_nonzeros = detect_nonzeros  # False: the dense baseline broadcasts everything
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

        The queues must be open (:meth:`ActivationQueue.open`) before the pass starts."""
        env, n = self.env, len(self.queues)
        yield env.timeout(SCAN_START_CYCLE)
        xs = [int(v) for v in x]
        for g0 in range(0, len(xs), n):
            if g0 and g0 % self.batch_activations == 0 and self.batch_swap_cycles:
                yield env.timeout(self.batch_swap_cycles)
            lanes = xs[g0 : g0 + n]
            self.counts["pe.src_regfile.read"] += len(lanes)
            if not self.detect_nonzeros:
                for lane, v in enumerate(lanes):
                    yield from self._broadcast(g0 + lane, max(v, 0) if input_relu else v)
                if progress is not None:
                    progress(len(lanes))
                continue
            nonzero = [(v > 0 if input_relu else v != 0) for v in lanes]
            nonzero += [False] * (n - len(lanes))
            for lane in self.lnzd.select(nonzero):
                self.counts["lnzd.select"] += 1
                self.last_slot_cycle = env.now
                yield from self._broadcast(g0 + lane, lanes[lane])
            if not nonzero[-1]:
                self.counts["lnzd.advance"] += 1
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
        self.last_slot_cycle = env.now
        for q in self.queues:
            q.push(attempt, column, value)
        yield env.timeout(1)
