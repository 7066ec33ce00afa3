"""Named workloads: the EIE paper's benchmark layers, chained networks, synthetic layers.

A :class:`Workload` is a sequence of compressed layers and the first layer's input. When
``chained`` is true each later layer takes the previous layer's *simulated* output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from eie_sim.errors import WorkloadError
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import reference_forward
from eie_sim.workloads.paper import DEFAULT_SEED, NETWORKS, TABLE_III, layer_spec
from eie_sim.workloads.synthetic import STATISTICS_MODES, LayerSpec, build_layer


@dataclass(frozen=True, eq=False)
class Workload:
    """Layers to simulate, in order, and the first layer's int16 input activations (a vector,
    or ``inputs x batch`` for machines that run a batch)."""

    name: str
    layers: tuple[QuantizedLayer, ...]
    inputs: np.ndarray
    chained: bool = False
    description: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.layers:
            raise WorkloadError(f"workload {self.name!r} has no layers")
        if self.inputs.ndim not in (1, 2) or self.inputs.shape[0] != self.layers[0].n_in:
            raise WorkloadError(
                f"workload {self.name!r}: input has shape {self.inputs.shape}, first layer "
                f"takes ({self.layers[0].n_in},) or ({self.layers[0].n_in}, batch)"
            )
        for a, b in zip(self.layers, self.layers[1:], strict=False):
            if self.chained and a.n_out != b.n_in:
                raise WorkloadError(
                    f"workload {self.name!r}: {a.name} gives {a.n_out} outputs but {b.name} "
                    f"takes {b.n_in} inputs"
                )

    def with_inputs(self, inputs: np.ndarray) -> Workload:
        """The same layers with another first-layer input."""
        return dataclasses.replace(self, inputs=np.asarray(inputs))


def _statistics_info(spec: LayerSpec) -> dict:
    """``info`` of a realistic workload (uniform ones keep an empty ``info``)."""
    params = spec.parameters
    return {} if params is None else {"statistics": spec.statistics, **params.as_dict()}


def single_layer(spec: LayerSpec, *, description: str = "") -> Workload:
    layer, x = build_layer(spec)
    return Workload(name=spec.name, layers=(layer,), inputs=x, description=description,
                    info=_statistics_info(spec))


def network(name: str, seed: int = DEFAULT_SEED, statistics: str = "uniform") -> Workload:
    """A chained FC stack of Table III; each bias calibrated on the actual previous output.

    ``statistics`` ("uniform" or "realistic") is passed to every layer's :class:`LayerSpec`.
    """
    layers, x0, x = [], None, None
    for layer_name in NETWORKS[name]:
        spec = layer_spec(layer_name, seed, statistics)
        layer, x_in = build_layer(spec, x)
        layers.append(layer)
        x0 = x_in if x0 is None else x0
        x = reference_forward(layer, x_in)
    return Workload(
        name=name,
        layers=tuple(layers),
        inputs=x0,
        chained=True,
        description=f"{name} FC6 -> ReLU -> FC7 -> ReLU -> FC8, chained"
        + ("" if statistics == "uniform" else f" ({statistics} statistics)"),
        info=_statistics_info(spec),
    )


def _describe(name: str) -> str:
    n_in, n_out, wd, ad, _ = TABLE_III[name]
    return f"{n_in} x {n_out}, weight density {wd:.0%}, activation density {ad:.1%} (Table III)"


_REGISTRY: dict[str, tuple[Callable[[int], Workload], str]] = {
    **{
        n: ((lambda s, n=n: single_layer(layer_spec(n, s), description=_describe(n))), _describe(n))
        for n in TABLE_III
    },
    "alexnet": (
        (lambda s: network("alexnet", s)),
        "AlexNet FC6 -> ReLU -> FC7 -> ReLU -> FC8, each layer fed the previous output",
    ),
    "vgg": (
        (lambda s: network("vgg", s)),
        "VGG-16 FC6 -> ReLU -> FC7 -> ReLU -> FC8, each layer fed the previous output",
    ),
}


def _digits(seed: int) -> Workload:
    from eie_sim.workloads.digits import digits_workload

    return digits_workload(seed)


_REGISTRY["digits-mlp"] = (
    _digits, "ReLU MLP 64-128-64-10 trained on sklearn digits, pruned + 4-bit (real weights); "
    "accuracy: eie_sim.workloads.digits.evaluate")


def _lstm(name: str, seed: int) -> Workload:
    from eie_sim.workloads.lstm import SPECS, lstm_workload

    return lstm_workload(SPECS[name].replace(seed=seed))


_REGISTRY["ese-lstm"] = (
    lambda s: _lstm("ese-lstm", s),
    "ESE's LSTMP (153 in, 1024 cells, projection 512, peepholes), 11.2 % dense, load-balance "
    "pruned, 12-bit; 4 steps x 32 utterances (arch ese)")
_REGISTRY["nt-lstm"] = (
    lambda s: _lstm("nt-lstm", s),
    "NeuralTalk's LSTM (600 in, 600 cells; EIE Table III NT-LSTM) 10 % dense, load-balance "
    "pruned, 12-bit; 4 steps x 32 utterances (arch ese)")


def _digits_lstm(seed: int) -> Workload:
    from eie_sim.workloads.digits_lstm import digits_lstm_workload

    return digits_lstm_workload(seed)


_REGISTRY["digits-lstm"] = (
    _digits_lstm, "LSTMP 8 in, 32 cells, projection 16 trained on sklearn digits read row by row "
    "(8 steps), 25 % dense load-balance pruned, 12-bit; the 360 test images as utterances "
    "(arch ese); accuracy: eie_sim.workloads.digits_lstm.evaluate")


def register(name: str, builder: Callable[[int], Workload], description: str) -> None:
    """Add a named workload (``builder(seed) -> Workload``)."""
    _REGISTRY[name] = (builder, description)


def workload_names() -> list[str]:
    return list(_REGISTRY)


def describe(name: str) -> str:
    return _REGISTRY[name][1]


def _synthetic(name: str, seed: int, statistics: str) -> Workload:
    """A Table III layer or network in the given statistics mode."""
    if name in NETWORKS:
        return network(name, seed, statistics)
    suffix = "" if statistics == "uniform" else f"; {statistics} statistics"
    return single_layer(layer_spec(name, seed, statistics), description=_describe(name) + suffix)


def statistics_workloads() -> list[str]:
    """The workloads that take ``statistics="realistic"`` (Table III layers and networks)."""
    return [*TABLE_III, *NETWORKS]


def get_workload(name: str, seed: int | None = None, statistics: str = "uniform") -> Workload:
    """Build the named workload; ``seed`` overrides the default seed (same seed, same layers).

    Parameters
    ----------
    name : str
        One of :func:`workload_names`.
    seed : int, optional
        Workload seed (>= 0); None = the workload's default.
    statistics : {"uniform", "realistic"}
        How the synthetic Table III layers and networks are drawn
        (:mod:`eie_sim.workloads.synthetic`); other workloads take only "uniform" (their
        default; a real model's structure is its own).
    """
    if name not in _REGISTRY:
        raise WorkloadError(f"unknown workload {name!r}; allowed: {', '.join(_REGISTRY)}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise WorkloadError(f"seed must be an integer >= 0, got {seed!r}")
    if statistics not in STATISTICS_MODES:
        raise WorkloadError(
            f"statistics must be one of {', '.join(STATISTICS_MODES)}, got {statistics!r}"
        )
    seed = DEFAULT_SEED if seed is None else seed
    if name in statistics_workloads():  # synthetic: built once, then loaded from the cache
        from eie_sim.workloads.cache import cached_workload

        return cached_workload({"name": name, "seed": seed, "statistics": statistics},
                               lambda: _synthetic(name, seed, statistics))
    if statistics == "uniform":
        return _REGISTRY[name][0](seed)
    if name not in statistics_workloads():
        raise WorkloadError(
            f"workload {name!r} has no statistics modes; statistics={statistics!r} applies to "
            f"{', '.join(statistics_workloads())}"
        )
    return _synthetic(name, seed, statistics)


__all__ = [
    "LayerSpec",
    "Workload",
    "build_layer",
    "get_workload",
    "network",
    "register",
    "single_layer",
    "statistics_workloads",
    "workload_names",
    "describe",
]
