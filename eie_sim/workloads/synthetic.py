"""Synthetic pruned, quantized FC layers built directly in compressed form.

Memory grows with the non-zeros, never with ``inputs x outputs``:

* **positions**: every weight survives independently with probability ``weight_density``;
  the surviving positions are drawn as geometric gaps along the column-major order, so the
  CSC structure comes out sorted without ever touching the zeros;
* **values**: dense FC weights are modelled as Laplace(0, s) (trained FC weights are close to
  it). Magnitude pruning to density ``d`` keeps ``|w| > s ln(1/d)``, and a Laplace tail is
  exponential, so a survivor is ``s (ln(1/d) + Exp(1))`` with a random sign — exactly what
  magnitude pruning of the dense layer would leave;
* **scale**: ``s`` is set so that ``E[w^2] * inputs * weight_density * activation_density = 1``,
  i.e. the output has about the RMS of the input and activations stay in range layer to layer;
* **quantization**: 4-bit k-means weight sharing (:class:`eie_sim.layer.QuantizedLayer`);
* **input activations**: exactly ``round(activation_density * inputs)`` non-zeros at random
  positions, values ``|N(0, 1)|`` (ReLU outputs), in Q7.8, at least one LSB;
* **bias**: one value for all outputs, chosen on the simulated datapath (the reference model)
  so that the fraction of outputs > 0 — the density the next layer's broadcast sees after its
  input ReLU — equals ``output_density``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eie_sim.errors import WorkloadError
from eie_sim.formats.fixed_point import ACT_FRAC_BITS, INT16_MAX, INT16_MIN, quantize
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import reference_forward

MAX_ELEMENTS = 1 << 40  # inputs x outputs; far beyond any FC layer, guards typos


@dataclass(frozen=True)
class LayerSpec:
    """A synthetic layer: shape, densities and seed.

    Attributes
    ----------
    name : str
        Label.
    inputs, outputs : int
        Input activations (matrix columns) and outputs (rows), each >= 1.
    weight_density : float
        Fraction of non-zero weights, in [0, 1].
    activation_density : float
        Fraction of non-zero input activations, in [0, 1].
    seed : int
        Seed of the weights and the input (>= 0).
    output_density : float or None
        Target fraction of outputs > 0, reached with the bias; None = no bias.
    """

    name: str
    inputs: int
    outputs: int
    weight_density: float
    activation_density: float
    seed: int = 0
    output_density: float | None = 0.5

    def __post_init__(self) -> None:
        for field_name in ("inputs", "outputs"):
            v = getattr(self, field_name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise WorkloadError(f"{field_name} must be an integer >= 1, got {v!r}")
        if self.inputs * self.outputs > MAX_ELEMENTS:
            raise WorkloadError(
                f"layer {self.inputs} x {self.outputs} is larger than 2**40 weights"
            )
        for field_name in ("weight_density", "activation_density", "output_density"):
            v = getattr(self, field_name)
            if v is None and field_name == "output_density":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise WorkloadError(f"{field_name} must be a number in [0, 1], got {v!r}")
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, (int, np.integer))
            or self.seed < 0
        ):
            raise WorkloadError(f"seed must be an integer >= 0, got {self.seed!r}")


def sparse_positions(
    rng: np.random.Generator, n_out: int, n_in: int, density: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli(density) positions of an ``n_out x n_in`` matrix as CSC ``(col_ptr, rows)``."""
    total = n_out * n_in
    if density <= 0.0:
        flat = np.zeros(0, dtype=np.int64)
    elif density >= 1.0:
        flat = np.arange(total, dtype=np.int64)
    else:
        expected = density * total
        chunk = int(expected + 8.0 * math.sqrt(expected) + 64)
        parts, last = [], -1
        while last < total - 1:
            pos = last + np.cumsum(rng.geometric(density, size=chunk))
            parts.append(pos)
            last = int(pos[-1])
            chunk = max(64, chunk // 8)
        flat = np.concatenate(parts)
        flat = flat[: np.searchsorted(flat, total)]
    cols = flat // n_out
    rows = (flat - cols * n_out).astype(np.int32)
    col_ptr = np.zeros(n_in + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=n_in), out=col_ptr[1:])
    return col_ptr, rows


def pruned_laplace_values(rng: np.random.Generator, n: int, density: float) -> np.ndarray:
    """Survivors of magnitude-pruning Laplace(0, 1) weights to ``density``: ``±(ln(1/d) + E)``."""
    threshold = math.log(1.0 / density) if 0.0 < density < 1.0 else 0.0
    magnitude = threshold + rng.exponential(1.0, size=n)
    return np.where(rng.random(n) < 0.5, -magnitude, magnitude)


def synthetic_activations(
    rng: np.random.Generator, n: int, density: float, frac_bits: int = ACT_FRAC_BITS
) -> np.ndarray:
    """``round(density * n)`` positive int16 activations (``|N(0,1)|``, >= 1 LSB), rest zero."""
    x = np.zeros(n, dtype=np.int16)
    k = int(round(density * n))
    if k:
        where = np.sort(rng.choice(n, size=k, replace=False))
        vals = quantize(np.abs(rng.standard_normal(k)), frac_bits)
        x[where] = np.maximum(vals, 1)
    return x


def calibrate_bias(
    layer: QuantizedLayer, x: np.ndarray, output_density: float, *, input_relu: bool = True
) -> QuantizedLayer:
    """Give ``layer`` the single bias value that makes ``output_density`` of its outputs > 0.

    The pre-bias outputs come from the reference datapath; with ``k = round(density * n_out)``
    the bias is minus the (k+1)-th largest of them, so exactly the k largest end up positive
    (fewer only if values tie at the threshold or saturate).
    """
    y0 = np.sort(
        reference_forward(layer, x, input_relu=input_relu, include_bias=False).astype(np.int64)
    )[::-1]
    k = int(round(output_density * layer.n_out))
    if k >= layer.n_out:
        b = -int(y0[-1]) + 1
    else:
        b = -int(y0[k])
    return layer.with_bias_value(int(np.clip(b, INT16_MIN, INT16_MAX)))


def build_layer(
    spec: LayerSpec,
    x: np.ndarray | None = None,
    *,
    input_relu: bool = True,
    act_frac_bits: int = ACT_FRAC_BITS,
) -> tuple[QuantizedLayer, np.ndarray]:
    """Build the compressed layer of ``spec`` and its input activations.

    Parameters
    ----------
    spec : LayerSpec
        Shape, densities, seed.
    x : numpy.ndarray of int16, optional
        Input activations (for example the previous layer's outputs). Default: synthetic,
        with ``spec.activation_density``.

    Returns
    -------
    (QuantizedLayer, numpy.ndarray of int16)
    """
    rng = np.random.default_rng([spec.seed, spec.inputs, spec.outputs])
    col_ptr, rows = sparse_positions(rng, spec.outputs, spec.inputs, spec.weight_density)
    values = pruned_laplace_values(rng, rows.size, spec.weight_density)
    if values.size:
        fan_in = max(spec.inputs * spec.weight_density * max(spec.activation_density, 1e-3), 1e-3)
        values *= 1.0 / math.sqrt(float(np.mean(values**2)) * fan_in)
    if x is None:
        x = synthetic_activations(rng, spec.inputs, spec.activation_density, act_frac_bits)
    elif x.shape != (spec.inputs,):
        raise WorkloadError(f"layer {spec.name!r} takes {spec.inputs} inputs, got {x.shape[0]}")
    layer = QuantizedLayer.from_sparse(
        spec.name, spec.inputs, spec.outputs, col_ptr, rows, values, act_frac_bits=act_frac_bits
    )
    if spec.output_density is not None:
        layer = calibrate_bias(layer, x, spec.output_density, input_relu=input_relu)
    return layer, x
