"""N:M structured-sparse tensor core (NVIDIA Ampere/Hopper style) and its dense twin.

Engines ``des`` (SimPy, one component per hardware unit) and ``fast`` (recurrence + closed
forms) implement the model of docs/STC_MODEL.md and agree exactly on cycles, per-tensor-core
statistics, every counter and the output bits (tests/test_stc_equivalence.py).

Public names::

    from eie_sim.engines.stc import STCConfig, run
    result = run(STCConfig.preset("a100"), "alexnet-fc7", batch=1)
"""

from eie_sim.engines.stc.adapter import STCLayer, activations, from_layer
from eie_sim.engines.stc.common import COUNTERS, Plan, STCLayerRun, make_plan
from eie_sim.engines.stc.config import PRESETS, DenseTCConfig, STCConfig
from eie_sim.engines.stc.reference import reference_gemm
from eie_sim.engines.stc.run import run, run_layer

__all__ = [
    "COUNTERS",
    "PRESETS",
    "DenseTCConfig",
    "Plan",
    "STCConfig",
    "STCLayer",
    "STCLayerRun",
    "activations",
    "from_layer",
    "make_plan",
    "reference_gemm",
    "run",
    "run_layer",
]
