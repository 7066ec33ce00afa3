"""The accelerator interface: what every architecture implements, and what the facade calls.

An architecture is one folder ``eie_sim/engines/<name>/`` whose ``model`` module provides the
functions of :class:`Model` (a :class:`typing.Protocol`: the module itself satisfies it). The
facade (:func:`eie_sim.simulate`) runs every layer of every workload the same way::

    prepared = model.prepare(layer, x, config, options)     # encode, check memory, warn
    run = model.ENGINES[engine](prepared, config, progress)  # count: LayerRun, no energy
    expected = model.reference(prepared, config)             # golden raw outputs (if checked)
    outputs, x_next = model.finish(prepared, run, config)    # fixed-point outputs, next input

then prices ``run.counts`` with ``model.geometry(config)`` and an energy table, and maps them to
memory traffic with ``model.traffic_map(config)``.

Contract
--------
* ``prepare`` does everything that depends on the layer and the config but not on the engine:
  encoding or N:M compression, quantization, batching, the layer bias, memory figures and the
  capacity check (a :class:`~eie_sim.errors.CapacityError` with the numbers), warnings.
  It never runs an engine.
* every engine of one architecture takes the same ``(prepared, config, progress)`` and returns
  an :class:`~eie_sim.engines.record.LayerRun` with the same cycles, per-unit statistics,
  counters and raw outputs as every other engine of that architecture (the common suite in
  ``tests/test_common_checks.py`` proves it). ``progress(n)``, when given, receives increments
  that add up to ``progress_total(layer, config)`` over the layer.
* ``LayerRun.counts`` holds exactly the counters of the architecture's catalogue; every one has
  a price in every bundled energy table.
* ``peak_macs_per_cycle`` is the number of multiply-accumulates the machine can do per cycle
  (its multiplier lanes), the denominator of the MAC-slot utilization.
* ``onchip_sram_bytes`` and ``dram_bandwidth_gbps`` state the machine's memories (what the
  ``iso`` comparison equalizes); ``issue_bounds`` gives lower bounds on a layer's cycles other
  than compute and memory (a PE array's broadcast), from its counters.
* ``reference`` is an independent functional model of the raw outputs (bit for bit).
* ``finish`` turns raw outputs into the layer's int16 fixed-point outputs (``act_frac_bits``
  fraction bits, the format EIE uses) and the value the next layer of a chained workload takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from eie_sim.engines.record import LayerRun
from eie_sim.layer import QuantizedLayer

Progress = Callable[[int], None] | None


@dataclass(frozen=True)
class RunOptions:
    """Facade options an architecture's ``prepare`` may read.

    Attributes
    ----------
    nm_prune : bool
        Tensor cores: N:M-prune weights that violate the pattern (False refuses them).
    activation_seed : int
        Tensor cores: seed of the extra batch columns made from a 1-D input.
    values : bool
        False: timing and counters only, no output values (architectures whose timing does
        not depend on the values; ``Accelerator.timing_only``).
    """

    nm_prune: bool = True
    activation_seed: int = 0
    values: bool = True


@dataclass(eq=False)
class Prepared:
    """A layer made ready for one architecture's engines.

    Attributes
    ----------
    layer : QuantizedLayer
        The layer as the workload gave it.
    x : numpy.ndarray
        The input the engines run on (int16 vector for PE arrays; real K x batch for tensor
        cores, before operand quantization).
    state : Any
        What the engines read (the interleaved-CSC encoding, the tensor core's plan and
        operands, ...): architecture-private.
    memory : dict of str to int
        On-chip storage needed and available, bytes (names end in ``_bytes...``).
    warnings : list of str
    weight_density, activation_density : float
        Non-zero weights / all weights of the layer as the machine holds it (after N:M pruning
        for a tensor core); non-zero (broadcast) inputs / inputs.
    effective_weight_density : float
        The fraction of the layer's weight slots the machine actually runs (stores and
        multiplies): EIE the non-zeros, a tensor core its N:M pattern's kept slots (the dense
        twin and the dense PE array 1.0). The common sparsity axis of comparisons.
    act_frac_bits : int
        Fraction bits of the layer's int16 fixed-point activations.
    details : dict
        Architecture-specific figures known before the run (declared in the registry).
    """

    layer: QuantizedLayer
    x: np.ndarray
    state: Any
    memory: dict[str, int]
    warnings: list[str]
    weight_density: float
    activation_density: float
    act_frac_bits: int
    effective_weight_density: float
    details: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    def __call__(self, prepared: Prepared, config: Any, progress: Progress) -> LayerRun: ...


class Model(Protocol):
    """The functions an architecture's ``model`` module provides (see the module docstring)."""

    ENGINES: dict[str, Engine]

    def prepare(
        self, layer: QuantizedLayer, x: np.ndarray, config: Any, options: RunOptions
    ) -> Prepared: ...

    def reference(self, prepared: Prepared, config: Any) -> np.ndarray: ...

    def finish(
        self, prepared: Prepared, run: LayerRun, config: Any
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def progress_total(self, layer: QuantizedLayer, config: Any) -> int: ...

    def peak_macs_per_cycle(self, config: Any) -> int: ...

    def onchip_sram_bytes(self, config: Any) -> int: ...

    def dram_bandwidth_gbps(self, config: Any) -> float: ...

    def issue_bounds(self, config: Any, counts: dict[str, int]) -> dict[str, float]: ...

    def geometry(self, config: Any) -> dict: ...

    def traffic_map(self, config: Any) -> dict[str, tuple[str, str, float]]: ...

    def summary(self, config: Any) -> str: ...


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """True if ``a`` and ``b`` have the same shape, dtype and bit pattern."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))
