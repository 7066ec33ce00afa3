"""eie_sim: cycle-level simulation of EIE and sparse accelerators on pruned, quantized FC layers.

Public names::

    from eie_sim import simulate, EIEConfig
    result = simulate(EIEConfig(num_pes=64), "alexnet", engine="fast")

Every architecture (``eie_sim.registry.ACCELERATORS``) runs through :func:`simulate`.
Importing the package loads no engine, SimPy, matplotlib or Dask.
"""

from eie_sim.config import ArchConfig, DenseConfig, DenseTCConfig, EIEConfig, STCConfig
from eie_sim.energy import load_table
from eie_sim.errors import CapacityError, ConfigError, EieSimError, WorkloadError
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import reference_forward
from eie_sim.registry import ACCELERATORS, load_config
from eie_sim.result import LayerResult, RunResult
from eie_sim.simulate import simulate

__version__ = "0.2.0"

__all__ = [
    "ACCELERATORS",
    "ArchConfig",
    "DenseConfig",
    "DenseTCConfig",
    "EIEConfig",
    "STCConfig",
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
