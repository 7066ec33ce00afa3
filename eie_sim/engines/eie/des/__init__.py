"""The discrete-event (SimPy) EIE engine: the shared PE array
(:mod:`eie_sim.engines.pe_array.des`) with EIE's own blocks, the leading non-zero detection
(:mod:`~eie_sim.engines.eie.des.lnzd`) and the pointer / sparse-matrix / weight-decoder column
source (:mod:`~eie_sim.engines.eie.des.pe`)."""

from eie_sim.engines.eie.des.engine import run_layer

__all__ = ["run_layer"]
