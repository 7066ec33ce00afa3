"""A whole network from a weights file: every 2-D tensor a fully-connected layer, chained.

Two ways to say which tensors make the network:

* **The file alone** (``.npz`` or ``.safetensors``): every 2-D tensor is a layer's weights,
  ``(outputs, inputs)`` as PyTorch's ``Linear.weight`` stores them (``transpose=True`` for
  ``(inputs, outputs)``, e.g. Keras kernels). Order: an ``.npz`` file's own order (as saved); a
  safetensors file stores names sorted, so its names are taken in *natural* order (digits
  compared as numbers: ``fc2`` before ``fc10``, ``layers.2`` before ``layers.10``). A layer's bias
  is the 1-D tensor of the same name with ``weight`` replaced by ``bias`` (``fc1.weight`` ->
  ``fc1.bias``, ``dense_1/kernel`` -> ``dense_1/bias``) when it has one value per output.
  Tensors of other ranks, and 1-D tensors that are nobody's bias, are left out (listed in the
  workload's ``info["skipped"]``).
* **A topology file** (YAML) when the file's order is not the network's, or to name the
  tensors, biases and activations explicitly::

      weights: model.safetensors      # relative to this YAML file
      transpose: false                # optional: every tensor is (inputs, outputs)
      layers:
        - tensor: encoder.weight      # required
          bias: encoder.bias          # optional; null for none (default: matched by name)
          name: fc1                   # optional layer name (default: the tensor's)
          activation: relu            # relu (default) or none (last layer only)
          transpose: false            # optional, per layer
        - tensor: decoder.weight

Between two layers the machines apply ReLU: EIE broadcasts only positive activations, and every
machine feeds a layer's outputs to the next through the same rule, so ``activation: relu`` is
the only activation between layers; ``none`` is accepted on the last layer only (its outputs
are reported as they are). Anything else is a one-line :class:`~eie_sim.errors.WorkloadError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eie_sim.errors import WorkloadError
from eie_sim.limits import excerpt

TOPOLOGY_SUFFIXES = (".yaml", ".yml")
_LAYER_KEYS = ("tensor", "bias", "name", "activation", "transpose")
_TOP_KEYS = ("weights", "transpose", "layers")
ACTIVATIONS = ("relu", "none")


@dataclass(frozen=True)
class LayerEntry:
    """One layer of a network from a file: tensor names and options."""

    tensor: str
    bias: str | None
    name: str
    activation: str = "relu"
    transpose: bool = False


def natural_key(name: str) -> list:
    """Sort key that compares runs of digits as numbers (``fc2`` < ``fc10``)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def bias_name(tensor: str) -> str | None:
    """The bias tensor's name matched to a weight tensor's (None when the name has no
    ``weight``/``kernel`` part to replace)."""
    for word, bias in (("weight", "bias"), ("Weight", "Bias"), ("WEIGHT", "BIAS"),
                       ("kernel", "bias")):
        i = tensor.rfind(word)
        if i >= 0:
            return tensor[:i] + bias + tensor[i + len(word):]
    return None


def infer_layers(tensors: dict[str, np.ndarray], *, natural: bool,
                 transpose: bool = False) -> tuple[list[LayerEntry], list[str]]:
    """Every 2-D tensor as a layer (in the file's order, or natural order), its bias matched
    by name; returns (layers, skipped tensor names)."""
    names = sorted(tensors, key=natural_key) if natural else list(tensors)
    layers, used = [], set()
    for name in names:
        t = np.asarray(tensors[name])
        if t.ndim != 2:
            continue
        outputs = t.shape[1] if transpose else t.shape[0]
        bias = bias_name(name)
        if bias is not None and not (bias in tensors and np.asarray(tensors[bias]).shape
                                     == (outputs,)):
            bias = None
        layers.append(LayerEntry(tensor=name, bias=bias, name=name, transpose=transpose))
        used.update({name, bias} - {None})
    skipped = [n for n in names if n not in used]
    return layers, skipped


def _check_mapping(value, allowed, where: str) -> None:
    """Refuse (one line) a value that is not a mapping, or has a key not in ``allowed``."""
    if not isinstance(value, dict):
        raise WorkloadError(f"{where}: expected a mapping with keys {', '.join(allowed)}")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise WorkloadError(f"{where}: unknown key {excerpt(unknown[0])}; allowed: "
                            f"{', '.join(allowed)}")


def read_topology(path: str | Path) -> tuple[Path, list[LayerEntry], bool]:
    """Parse a topology YAML: (weights file, layers, whether order was given)."""
    from eie_sim.limits import read_text_file
    from eie_sim.safe_yaml import YamlError, load

    p = Path(path)
    # A regular file of bounded size (a FIFO or /dev/zero is refused, not read forever).
    text = read_text_file(p, "topology file", error=WorkloadError)
    try:
        doc = load(text)
    except YamlError as err:
        raise WorkloadError(f"topology file {p}: {err}") from None
    _check_mapping(doc, _TOP_KEYS, f"topology file {p}")
    weights = doc.get("weights")
    if not isinstance(weights, str) or not weights:
        raise WorkloadError(f"topology file {p}: 'weights' must name the weights file "
                            "(.npz or .safetensors, relative to the topology file)")
    transpose_all = _bool(doc.get("transpose", False), p, "transpose")
    entries = doc.get("layers")
    if not isinstance(entries, list) or not entries:
        raise WorkloadError(f"topology file {p}: 'layers' must be a non-empty list of "
                            "{tensor: NAME, ...}")
    layers = []
    for k, entry in enumerate(entries, 1):
        where = f"topology file {p}, layer {k}"
        if isinstance(entry, str):
            entry = {"tensor": entry}
        _check_mapping(entry, _LAYER_KEYS, where)
        tensor = entry.get("tensor")
        if not isinstance(tensor, str) or not tensor:
            raise WorkloadError(f"{where}: 'tensor' must name the weight tensor")
        bias = entry.get("bias", "auto")
        if bias is not None and not isinstance(bias, str):
            raise WorkloadError(f"{where}: 'bias' must be a tensor name or null")
        activation = entry.get("activation", "relu")
        if activation is None:
            activation = "none"
        if activation not in ACTIVATIONS:
            raise WorkloadError(
                f"{where}: activation {activation!r} is not supported; allowed: relu (the "
                "machines apply ReLU between layers), or none on the last layer")
        if activation == "none" and k < len(entries):
            raise WorkloadError(f"{where}: activation 'none' is only possible on the last "
                                "layer; the machines apply ReLU between layers")
        name = entry.get("name", tensor)
        if not isinstance(name, str) or not name:
            raise WorkloadError(f"{where}: 'name' must be a non-empty string")
        layers.append(LayerEntry(tensor=tensor, bias=bias, name=name, activation=activation,
                                 transpose=_bool(entry.get("transpose", transpose_all), p,
                                                 f"layer {k} transpose")))
    names = [e.name for e in layers]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise WorkloadError(f"topology file {p}: layer name {dup!r} is used twice")
    return (p.parent / weights), layers, True


def _bool(value, path, key: str) -> bool:
    if not isinstance(value, bool):
        raise WorkloadError(f"topology file {path}: {key} must be true or false, "
                            f"got {value!r}")
    return value


def model_workload(path: str | Path, *, transpose: bool = False,
                   prune_density: float | None = None, activations: str | Path | None = None,
                   activation_density: float | None = None, seed: int = 0,
                   bias_codebook: str = "separate"):
    """A chained :class:`~eie_sim.workloads.Workload` of every layer of a weights file or of a
    topology YAML (see the module docstring).

    Parameters
    ----------
    path : str or Path
        ``.npz``, ``.safetensors`` or a topology ``.yaml``/``.yml``.
    transpose : bool
        Every tensor is ``(inputs, outputs)`` (a topology file says so itself).
    prune_density : float, optional
        Magnitude-prune every layer to this weight density first, in [0, 1].
    activations, activation_density
        The first layer's input: a ``.npy`` file, or synthetic at this density (exactly one).
    seed : int
        Seed of synthetic activations.
    bias_codebook : {"separate", "weights"}
        See :meth:`~eie_sim.layer.QuantizedLayer.from_sparse`.
    """
    from eie_sim.compress import magnitude_prune
    from eie_sim.layer import QuantizedLayer
    from eie_sim.workloads import Workload
    from eie_sim.workloads.loaders import _pick, load_activations, read_tensors
    from eie_sim.workloads.synthetic import synthetic_activations

    p = Path(path)
    skipped: list[str] = []
    if p.suffix in TOPOLOGY_SUFFIXES:
        if transpose:
            raise WorkloadError("--transpose applies to a weights file; a topology file says "
                                "'transpose: true' itself")
        weights_path, entries, _ = read_topology(p)
        tensors = read_tensors(weights_path)
        entries = [e if e.bias != "auto" else LayerEntry(
            e.tensor, _auto_bias(tensors, e), e.name, e.activation, e.transpose)
            for e in entries]
    else:
        weights_path = p
        tensors = read_tensors(p)
        entries, skipped = infer_layers(tensors, natural=p.suffix == ".safetensors",
                                        transpose=transpose)
        if not entries:
            shapes = ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in tensors.items())
            raise WorkloadError(f"{p} has no 2-D weight tensor; tensors: {shapes or '(none)'}")
    if prune_density is not None and not 0.0 <= prune_density <= 1.0:
        raise WorkloadError(f"prune density must be in [0, 1], got {prune_density}")
    layers = []
    for e in entries:
        w = _pick(tensors, e.tensor, weights_path)
        if w.ndim != 2:
            raise WorkloadError(f"tensor {e.tensor!r} has shape {w.shape}; allowed: 2-D "
                                "(outputs, inputs)")
        if e.transpose:
            w = w.T
        if layers and layers[-1].n_out != w.shape[1]:
            prev = layers[-1]
            raise WorkloadError(
                f"layer {e.name!r} takes {w.shape[1]} inputs but {prev.name!r} gives "
                f"{prev.n_out} outputs; name the layers' order in a topology YAML (see "
                "docs/WORKLOADS.md), or --transpose if the tensors are (inputs, outputs)")
        if prune_density is not None:
            w = w * magnitude_prune(w, prune_density)
        b = None
        if e.bias is not None:
            b = _pick(tensors, e.bias, weights_path)
            if b.shape != (w.shape[0],):
                raise WorkloadError(f"bias {e.bias!r} has shape {b.shape}; layer {e.name!r} "
                                    f"has {w.shape[0]} outputs")
        layers.append(QuantizedLayer.from_dense(e.name, w, b, bias_codebook=bias_codebook))
    if (activations is None) == (activation_density is None):
        raise WorkloadError("give the input activations as a .npy file or as a density, "
                            "exactly one of the two")
    warnings: list[str] = []
    if activations is not None:
        x = load_activations(activations, layers[0].n_in, warnings)
    else:
        if not 0.0 <= activation_density <= 1.0:
            raise WorkloadError(f"activation density must be in [0, 1], got {activation_density}")
        x = synthetic_activations(np.random.default_rng(seed), layers[0].n_in,
                                  activation_density)
    info: dict = {"layers": [{"name": e.name, "tensor": e.tensor, "bias": e.bias,
                              "activation": e.activation, "transpose": e.transpose}
                             for e in entries]}
    if skipped:
        info["skipped"] = skipped
    if warnings:
        info["warnings"] = warnings
    chain = " -> ReLU -> ".join(e.name for e in entries)
    return Workload(name=p.stem, layers=tuple(layers), inputs=x, chained=True,
                    description=f"{chain} from {weights_path.name}", info=info)


def _auto_bias(tensors: dict[str, np.ndarray], e: LayerEntry) -> str | None:
    """A topology layer without a ``bias`` key: the tensor matched by name, if it exists."""
    bias = bias_name(e.tensor)
    return bias if bias is not None and bias in tensors else None
