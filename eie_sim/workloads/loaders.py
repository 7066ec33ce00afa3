"""A user's own pruned weights: ``.npz`` and safetensors files, tensors picked by name.

Weights are a 2-D float tensor, ``(outputs, inputs)`` (``transpose=True`` for ``(inputs,
outputs)``, e.g. PyTorch's ``Linear.weight.T``); zeros are pruned weights (or prune here with
``prune_density``). Input activations come from a ``.npy`` file (float values, quantized to
Q7.8) or are synthetic at a given density. Every check fails with a one-line
:class:`~eie_sim.errors.WorkloadError`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eie_sim.errors import WorkloadError
from eie_sim.formats.fixed_point import ACT_FRAC_BITS, INT16_MAX, quantize
from eie_sim.layer import QuantizedLayer
from eie_sim.limits import check_tensor_file

SUFFIXES = (".npz", ".safetensors")


def read_tensors(path: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a ``.npz`` or ``.safetensors`` file, by name."""
    p = Path(path)
    if p.suffix not in SUFFIXES:
        raise WorkloadError(f"weights file {p} has suffix {p.suffix!r}; allowed: "
                            f"{', '.join(SUFFIXES)}")
    if not p.is_file():
        raise WorkloadError(f"weights file {p} does not exist")
    check_tensor_file(p, "weights file")  # limits: declared shapes within the memory budget
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        from safetensors.numpy import load_file

        return load_file(str(p))
    except WorkloadError:
        raise
    except Exception as err:  # corrupt archive / header: say so in one line
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise WorkloadError(f"cannot read weights file {p}: {reason}") from None


def _pick(tensors: dict[str, np.ndarray], name: str, path) -> np.ndarray:
    """Tensor ``name``, finite, float or integer: kept in its dtype (the layer converts only
    its non-zeros to float64), a float wider than 64 bits converted to float64."""
    if name not in tensors:
        raise WorkloadError(f"tensor {name!r} not in {path}; available: "
                            f"{', '.join(sorted(tensors)) or '(none)'}")
    t = np.asarray(tensors[name])
    if t.dtype.kind not in "fiu":
        raise WorkloadError(f"tensor {name!r} has dtype {t.dtype}; allowed: float or integer")
    if t.dtype.kind == "f" and t.dtype.itemsize > 8:
        t = t.astype(np.float64)
    if t.dtype.kind == "f" and not np.isfinite(t).all():
        raise WorkloadError(f"tensor {name!r} contains NaN or infinity")
    return t


def load_layer(path: str | Path, tensor: str, *, bias: str | None = None,
               transpose: bool = False, prune_density: float | None = None,
               name: str | None = None, bias_codebook: str = "separate") -> QuantizedLayer:
    """Read, optionally prune, and quantize one FC layer from a weights file
    (``bias_codebook``: see :meth:`~eie_sim.layer.QuantizedLayer.from_sparse`)."""
    from eie_sim.compress import magnitude_prune

    tensors = read_tensors(path)
    w = _pick(tensors, tensor, path)
    if w.ndim != 2:
        raise WorkloadError(f"tensor {tensor!r} has shape {w.shape}; allowed: 2-D "
                            "(outputs, inputs)")
    if transpose:
        w = w.T
    if prune_density is not None:
        if not 0.0 <= prune_density <= 1.0:
            raise WorkloadError(f"prune density must be in [0, 1], got {prune_density}")
        w = w * magnitude_prune(w, prune_density)
    b = None
    if bias is not None:
        b = _pick(tensors, bias, path)
        if b.shape != (w.shape[0],):
            raise WorkloadError(f"bias {bias!r} has shape {b.shape}; the layer has "
                                f"{w.shape[0]} outputs")
    return QuantizedLayer.from_dense(name or tensor, w, b, bias_codebook=bias_codebook)


def load_activations(path: str | Path, n_in: int, warnings: list[str] | None = None
                     ) -> np.ndarray:
    """Float activations from a ``.npy`` file as Q7.8 int16 (values must fit +-128).

    Non-zero values that round to zero (below half the Q7.8 resolution, 2**-9) are counted
    and reported in ``warnings`` (appended), since the accelerator then skips them."""
    p = Path(path)
    if p.suffix != ".npy" or not p.is_file():
        raise WorkloadError(f"activations file {p} must be an existing .npy file")
    check_tensor_file(p, "activations file")  # limits: declared shape within the memory budget
    try:
        a = np.load(p, allow_pickle=False)
    except Exception:
        raise WorkloadError(f"cannot read activations file {p}: not a valid .npy file") from None
    if a.dtype.kind not in "fiu":
        raise WorkloadError(f"activations in {p} have dtype {a.dtype}; allowed: float or integer")
    a = np.asarray(a, dtype=np.float64).reshape(-1) if a.ndim == 2 and 1 in a.shape else a
    if a.shape != (n_in,):
        raise WorkloadError(f"activations in {p} have shape {a.shape}; the layer takes "
                            f"{n_in} inputs")
    if not np.all(np.isfinite(a)):
        raise WorkloadError(f"activations in {p} contain NaN or infinity")
    limit = INT16_MAX / (1 << ACT_FRAC_BITS)
    if np.max(np.abs(a), initial=0.0) > limit:
        raise WorkloadError(f"activations in {p} exceed the Q7.8 range (|a| <= {limit:.4f}); "
                            "scale them")
    q = quantize(a, ACT_FRAC_BITS)
    lost = int(np.count_nonzero((a != 0) & (q == 0)))
    if lost and warnings is not None:
        warnings.append(f"{lost} of the {int(np.count_nonzero(a))} non-zero input activations "
                        f"in {p.name} are below the Q7.8 resolution (|a| < 2**-9) and became 0")
    return q


def user_workload(path: str | Path, tensor: str, *, bias: str | None = None,
                  transpose: bool = False, prune_density: float | None = None,
                  activations: str | Path | None = None, activation_density: float | None = None,
                  seed: int = 0, bias_codebook: str = "separate"):
    """A one-layer :class:`~eie_sim.workloads.Workload` from a user's weights and activations;
    quantization warnings go to its ``info["warnings"]``."""
    from eie_sim.workloads import Workload
    from eie_sim.workloads.synthetic import synthetic_activations

    layer = load_layer(path, tensor, bias=bias, transpose=transpose,
                       prune_density=prune_density, bias_codebook=bias_codebook)
    warnings: list[str] = []
    if (activations is None) == (activation_density is None):
        raise WorkloadError("give the input activations as a .npy file or as a density, "
                            "exactly one of the two")
    if activations is not None:
        x = load_activations(activations, layer.n_in, warnings)
    else:
        if not 0.0 <= activation_density <= 1.0:
            raise WorkloadError(f"activation density must be in [0, 1], got {activation_density}")
        x = synthetic_activations(np.random.default_rng(seed), layer.n_in, activation_density)
    return Workload(name=layer.name, layers=(layer,), inputs=x,
                    description=f"{tensor} from {Path(path).name}",
                    info={"warnings": warnings} if warnings else {})
