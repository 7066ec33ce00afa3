"""eie_sim: cycle-level simulation of EIE and sparse accelerators on pruned, quantized FC layers.

Public names::

    from eie_sim import simulate, EIEConfig
    result = simulate(EIEConfig(num_pes=64), "alexnet", engine="fast")
"""

from eie_sim.config import ArchConfig, DenseConfig, EIEConfig, load_config
from eie_sim.energy import load_table
from eie_sim.errors import CapacityError, ConfigError, EieSimError, WorkloadError
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import reference_forward
from eie_sim.result import LayerResult, RunResult
from eie_sim.simulate import simulate

__version__ = "0.1.0"

__all__ = [
    "ArchConfig",
    "DenseConfig",
    "EIEConfig",
    "load_config",
    "CapacityError",
    "ConfigError",
    "EieSimError",
    "WorkloadError",
    "QuantizedLayer",
    "load_table",
    "reference_forward",
    "LayerResult",
    "RunResult",
    "simulate",
    "__version__",
]
