"""The discrete-event (SimPy) tensor-core engine: one component per hardware unit.

Units: :class:`~.loader.GlobalMemoryLoader`, :class:`~.buffer.OperandBuffer` (per SM, double
buffered), :class:`~.tensor_core.TensorCore` with its :class:`~.tensor_core.MMAPipeline` and
:class:`~.tensor_core.MetadataSelector`, :class:`~.writeback.Accumulator` and
:class:`~.writeback.WriteBack`.
"""

from eie_sim.engines.stc.des.engine import run_layer

__all__ = ["run_layer"]
