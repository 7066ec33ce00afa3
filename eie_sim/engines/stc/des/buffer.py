"""OperandBuffer: an SM's on-chip operand buffer (shared memory), ``slots`` stages deep.

Contract (docs/STC_MODEL.md §Timing): the global-memory loader fills stage ``g`` of every SM at
the end of its transfer; the SM's tensor cores read it from that cycle on (each warp reads its A
and B fragments once per k-step and reuses them across its warp tile: ``smem.read_bytes``,
counted when the stage is released); the slot is released when the last of the SM's tensor
cores with work in stage ``g`` finishes it, and the loader may
then start loading stage ``g + slots`` into it (2 slots = double buffering: the load of stage
``g + 1`` overlaps the MMAs of stage ``g``).
"""

from __future__ import annotations

import simpy

from eie_sim.engines.stc.common import Plan


class OperandBuffer:
    """The operand buffer of SM ``sm``.

    Parameters
    ----------
    env : simpy.Environment
        Time in clock cycles.
    sm : int
        SM index.
    plan : Plan
        The work decomposition (which tensor cores of this SM work in which wave).
    counts : dict
        Shared counters (``smem.write_bytes``, ``smem.read_bytes``).
    """

    def __init__(self, env: simpy.Environment, sm: int, plan: Plan, counts: dict[str, int]):
        self.env = env
        self.sm = sm
        self.plan = plan
        self.counts = counts
        self._filled: dict[int, simpy.Event] = {}
        self._released: dict[int, simpy.Event] = {}
        self._pending: dict[int, int] = {}

    def workers(self, g: int) -> int:
        """Tensor cores of this SM with work in stage ``g``."""
        return int((self.plan.wave_frags[self.plan.wave_of(g), self.sm] > 0).sum())

    def filled(self, g: int) -> simpy.Event:
        """Event that fires when stage ``g`` has arrived."""
        if g not in self._filled:
            self._filled[g] = self.env.event()
        return self._filled[g]

    def released(self, g: int) -> simpy.Event:
        """Event that fires when every working tensor core has finished stage ``g``."""
        if g not in self._released:
            self._released[g] = self.env.event()
        return self._released[g]

    def fill(self, g: int, nbytes: int) -> None:
        """The loader wrote ``nbytes`` of stage ``g`` into this buffer (this cycle)."""
        self.counts["smem.write_bytes"] += nbytes
        self.filled(g).succeed()

    def finish(self, g: int) -> None:
        """A tensor core finished its MMAs of stage ``g``."""
        left = self._pending.get(g, self.workers(g)) - 1
        self._pending[g] = left
        if left == 0:
            plan = self.plan
            w, s = divmod(g, plan.stages_per_wave)
            t = plan.tile_of(w, self.sm)
            self.counts["smem.read_bytes"] += (int(plan.stage_ksteps[s])
                                               * int(plan.tile_smem_read_bytes[t]))
            self.released(g).succeed()
