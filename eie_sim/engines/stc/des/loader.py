"""GlobalMemoryLoader: the one DRAM (HBM) channel of the chip, and the weight-store port.

It serves, in the fixed order :attr:`eie_sim.engines.stc.common.Plan.program`, two kinds of
requests, one at a time:

* ``load g``: waits until every SM has released the buffer slot of stage ``g - slots``, then
  moves stage ``g``'s compressed weights + metadata (from DRAM, or from the on-chip weight store
  with ``weights_from 'sram'``, in parallel) and activation slabs; the transfer takes
  ``Plan.load_cycles[g]`` cycles; at its end every SM's buffer holds stage ``g``;
* ``write w``: waits until wave ``w``'s accumulators are final, then writes its outputs
  (``Plan.write_cycles[w]``).

A slab several SMs of a wave share (same rows or same batch columns) crosses DRAM once.
"""

from __future__ import annotations

import simpy

from eie_sim.engines.stc.common import Plan
from eie_sim.engines.stc.des.buffer import OperandBuffer
from eie_sim.engines.stc.des.writeback import WriteBack


class GlobalMemoryLoader:
    """Streams operand stages into the SMs' buffers and outputs back to global memory.

    Parameters
    ----------
    env : simpy.Environment
    plan : Plan
    buffers : list of OperandBuffer
        One per SM.
    writeback : WriteBack
    counts : dict
        Shared counters (``dram.*``, ``weight_sram.*``).
    """

    def __init__(
        self,
        env: simpy.Environment,
        plan: Plan,
        buffers: list[OperandBuffer],
        writeback: WriteBack,
        counts: dict[str, int],
    ) -> None:
        self.env = env
        self.plan = plan
        self.buffers = buffers
        self.writeback = writeback
        self.counts = counts
        self.wave_end: list[int] = [0] * plan.waves
        self.process = env.process(self.run())

    def _slab_bytes(self, g: int, sm: int) -> int:
        """Bytes of stage ``g`` that SM ``sm``'s buffer receives (its tile's weight rows,
        metadata and activation columns for the stage's k-steps)."""
        plan = self.plan
        w, s = divmod(g, plan.stages_per_wave)
        t = plan.tile_of(w, sm)
        if t is None:
            return 0
        ks = int(plan.stage_ksteps[s])
        per_row = plan.k_kept * plan.value_bytes + plan.k_kept * plan.index_bits // 8
        per_col = plan.k_cover * plan.value_bytes
        return ks * (int(plan.tile_rows[t]) * per_row + int(plan.tile_cols[t]) * per_col)

    def run(self):
        env, plan, counts = self.env, self.plan, self.counts
        for kind, i in plan.program:
            if kind == "load":
                h = i - plan.slots
                if h >= 0:
                    pending = [
                        b.released(h) for b in self.buffers
                        if b.workers(h) and not b.released(h).processed
                    ]
                    if pending:
                        yield env.all_of(pending)
                yield env.timeout(plan.load_cycles[i])
                counts["dram.weight_read_bytes"] += int(plan.dram_weight_bytes[i])
                counts["dram.metadata_read_bytes"] += int(plan.dram_metadata_bytes[i])
                counts["dram.act_read_bytes"] += int(plan.dram_act_bytes[i])
                counts["weight_sram.weight_read_bytes"] += int(plan.sram_weight_bytes[i])
                counts["weight_sram.metadata_read_bytes"] += int(plan.sram_metadata_bytes[i])
                for sm, buf in enumerate(self.buffers):
                    nbytes = self._slab_bytes(i, sm)
                    if nbytes:
                        buf.fill(i, nbytes)
            else:
                ready = self.writeback.ready(i)
                if not ready.processed:
                    yield ready
                yield env.timeout(plan.write_cycles[i])
                self.writeback.store(i)
                self.wave_end[i] = int(env.now)
