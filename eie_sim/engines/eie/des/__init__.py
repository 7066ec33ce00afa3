"""The discrete-event (SimPy) EIE engine: one component per hardware block of the paper."""

from eie_sim.engines.eie.des.engine import run_layer

__all__ = ["run_layer"]
