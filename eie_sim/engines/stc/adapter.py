"""Layer input adapter: turn an eie_sim layer (or a dense float matrix) and its activations into
tensor-core operands.

Weights: the layer's real-valued weights (``QuantizedLayer.weights_float()``: the shared
weights it encodes) are N:M-pruned (magnitude, or refused if they violate the pattern and
``prune=False``), then quantized:

* ``fp16``: rounded to IEEE binary16 (``numpy.float16``); scale 1.0;
* ``int8``: symmetric per-tensor, ``scale = max|w| / 127``, ``q = round(w / scale)``.

Activations ``X`` are ``K x Nb``. Batch 1 is the workload's own input vector converted to real
values (``x / 2**act_frac_bits``). For ``Nb > 1`` column 0 is that vector and every further
column is a seeded random permutation of it (same values, same density, different positions):
``numpy.random.default_rng([seed, Nb])``. With ``relu`` (default, like EIE's input-side ReLU)
negative inputs become 0. Activations are quantized like the weights (fp16 rounding, or
symmetric per-tensor int8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eie_sim.errors import WorkloadError
from eie_sim.formats.fixed_point import ACT_FRAC_BITS
from eie_sim.formats.nm_sparse import NMSparse, compress
from eie_sim.layer import QuantizedLayer

DTYPES = {"fp16": np.float16, "int8": np.int8}
FP16_MAX = 65504.0


@dataclass(frozen=True, eq=False)
class STCLayer:
    """A layer prepared for the tensor core.

    Attributes
    ----------
    name : str
    weights : NMSparse
        N:M-compressed quantized weights, values float16 or int8, shape (n_out, n_in).
    dtype : {"fp16", "int8"}
    weight_scale : float
        Real weight = stored value x ``weight_scale`` (1.0 for fp16).
    act_frac_bits : int
        Fraction bits of the layer's fixed-point activations (for int16 inputs and outputs).
    bias : numpy.ndarray of float64, shape (n_out,), or None
        The layer's real bias values (added by the epilogue at write-back).
    """

    name: str
    weights: NMSparse
    dtype: str
    weight_scale: float = 1.0
    act_frac_bits: int = ACT_FRAC_BITS
    bias: np.ndarray | None = None

    @property
    def n_out(self) -> int:
        return self.weights.rows

    @property
    def n_in(self) -> int:
        return self.weights.cols

    @property
    def pattern(self) -> str:
        return f"{self.weights.n}:{self.weights.m}"

    def dense(self) -> np.ndarray:
        """The quantized weights as a dense ``(n_out, n_in)`` matrix (zeros where pruned)."""
        return self.weights.decompress()


def _extremes(v: np.ndarray) -> tuple[float, float] | None:
    """``(max, min)`` of ``v`` and 0, or None if ``v`` holds a NaN or an infinity (max and
    min carry a NaN along: both finite means every value is)."""
    hi, lo = float(np.max(v, initial=0.0)), float(np.min(v, initial=0.0))
    return (hi, lo) if math.isfinite(hi) and math.isfinite(lo) else None


def _quantize(values: np.ndarray, dtype: str, what: str) -> tuple[np.ndarray, float]:
    v = np.asarray(values, dtype=np.float64)
    extremes = _extremes(v)
    if extremes is None:
        raise WorkloadError(f"{what} contain NaN or infinity")
    big = max(extremes[0], -extremes[1])  # max |v|
    if dtype == "fp16":
        if big > FP16_MAX:
            raise WorkloadError(f"{what} reach {big:g}, beyond the fp16 range (65504)")
        return v.astype(np.float16), 1.0
    if dtype != "int8":
        raise WorkloadError(f"dtype must be 'fp16' or 'int8', got {dtype!r}")
    scale = big / 127.0 if big > 0 else 1.0
    return np.clip(np.rint(v / scale), -127, 127).astype(np.int8), scale


def from_layer(
    layer: QuantizedLayer | np.ndarray,
    n: int = 2,
    m: int = 4,
    dtype: str = "fp16",
    *,
    prune: bool = True,
    name: str | None = None,
) -> STCLayer:
    """N:M-prune and quantize a layer for the tensor core.

    Parameters
    ----------
    layer : QuantizedLayer or numpy.ndarray of float, shape (n_out, n_in)
        An eie_sim layer (its shared weights and its bias) or dense real weights (no bias).
    n, m : int
        The N:M pattern.
    dtype : {"fp16", "int8"}
        Operand type.
    prune : bool
        True: N:M magnitude pruning first. False: weights violating the pattern are refused.
    name : str, optional
        Label (default: the layer's name, or ``"weights"``).

    Returns
    -------
    STCLayer

    Raises
    ------
    WorkloadError
        Pattern violation (``prune=False``), non-finite weights, fp16 overflow.
    """
    bias = None
    if isinstance(layer, QuantizedLayer):
        w = layer.weights_float()
        label = name or layer.name
        frac = layer.act_frac_bits
        if layer.has_bias:
            bias = layer.bias_values().astype(np.float64) / float(1 << frac)
    else:
        w = np.asarray(layer, dtype=np.float64)
        if w.ndim != 2:
            raise WorkloadError(f"weights must be a 2-D (outputs, inputs) matrix, got {w.shape}")
        label = name or "weights"
        frac = ACT_FRAC_BITS
    if _extremes(w) is None:
        raise WorkloadError(f"layer {label!r}: weights contain NaN or infinity")
    what = f"layer {label!r}: weights"
    if prune:  # the n largest magnitudes of every group
        pruned = compress(w, n, m, prune=True)
        # Quantizing the kept values is quantizing the pruned matrix (the others are +0,
        # which stays +0), then compressing it (replace_values); the largest magnitude is
        # the same.
        q, scale = _quantize(pruned.values, dtype, what)
        return STCLayer(label, pruned.replace_values(q), dtype, scale, frac, bias)
    compress(w, n, m)  # refuses a violation with the first bad row and group
    q, scale = _quantize(w, dtype, what)
    return STCLayer(label, compress(q, n, m), dtype, scale, frac, bias)


def activations(
    x: np.ndarray,
    batch: int = 1,
    *,
    seed: int = 0,
    relu: bool = True,
    act_frac_bits: int = ACT_FRAC_BITS,
) -> np.ndarray:
    """Real-valued ``K x batch`` activations from a layer input.

    Parameters
    ----------
    x : numpy.ndarray, shape (K,) or (K, batch)
        int16 fixed point (divided by ``2**act_frac_bits``) or real values. A 2-D input is
        used as is (its width must equal ``batch``).
    batch : int
        Columns Nb; extra columns are seeded permutations of ``x`` (module docstring).
    seed : int
        Seed of the permutations.
    relu : bool
        Zero the negative inputs.

    Returns
    -------
    numpy.ndarray of float64, shape (K, batch)
    """
    a = np.asarray(x)
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise WorkloadError(f"batch must be an integer >= 1, got {batch!r}")
    v = a / float(1 << act_frac_bits) if a.dtype == np.int16 else a.astype(np.float64)
    if v.ndim == 2:
        if v.shape[1] != batch:
            raise WorkloadError(f"activations have {v.shape[1]} columns, batch is {batch}")
        cols = v
    elif v.ndim == 1:
        rng = np.random.default_rng([seed, batch])
        rows = np.empty((batch, v.size))  # column c of the result, contiguous
        rows[0] = v
        for c in range(1, batch):
            rows[c] = v[rng.permutation(v.size)]
        cols = rows.T
    else:
        raise WorkloadError(f"activations must be 1-D or 2-D, got shape {v.shape}")
    if not np.all(np.isfinite(cols)):
        raise WorkloadError("activations contain NaN or infinity")
    return np.maximum(cols, 0.0) if relu else cols


def quantize_bias(bias: np.ndarray | None, dtype: str, scale: float) -> np.ndarray | None:
    """The bias in the accumulator type: float32 (fp16 operands) or, for int8, int32 in units of
    ``scale`` (the product of the weight and activation scales), rounded half to even and
    clipped to the int32 range."""
    if bias is None:
        return None
    if dtype == "fp16":
        return bias.astype(np.float32)
    q = np.rint(np.asarray(bias, dtype=np.float64) / scale)
    return np.clip(q, -(1 << 31), (1 << 31) - 1).astype(np.int32)


def quantize_activations(x: np.ndarray, dtype: str) -> tuple[np.ndarray, float]:
    """``(values, scale)``: fp16 rounding (scale 1) or symmetric per-tensor int8."""
    return _quantize(x, dtype, "activations")
