"""A real network: a ReLU MLP trained on scikit-learn's bundled digits data (no download).

Pipeline (seeded, deterministic):

1. train a 64 -> 128 -> 64 -> 10 ReLU MLP in float64 numpy (Adam, cross-entropy, mini-batches)
   on 80 % of the 1797 8x8 images (pixels scaled to [0, 1]);
2. prune it iteratively by magnitude (per layer, to 60 %, then 40 %, then the target density)
   with fine-tuning of the surviving weights after each step;
3. quantize each layer with 4-bit k-means weight sharing and 16-bit fixed point
   (:meth:`eie_sim.layer.QuantizedLayer.from_dense`; inputs in Q7.8);
4. run every test image through the simulated EIE (fast engine) and report the float model's
   accuracy, the simulated datapath's accuracy, the real activation density of each layer's
   input, and cycles and energy per image.

The same trained network, pruned 2:4 instead (N:M magnitude pruning with fine-tuning), runs
through the tensor-core model with all test images as one batch (:func:`evaluate_tensor_core`;
fp16 operands, fp32 accumulation; the bias added by the epilogue, ReLU on the next input).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from eie_sim.errors import WorkloadError
from eie_sim.formats.fixed_point import ACT_FRAC_BITS, quantize
from eie_sim.layer import QuantizedLayer

HIDDEN = (128, 64)
#: Weight density kept per layer after pruning.
TARGET_DENSITY = (0.25, 0.25, 0.5)
DEFAULT_SEED = 0


def load_digits_data(seed: int = DEFAULT_SEED):
    """``(x_train, y_train, x_test, y_test)``: pixels scaled to [0, 1], a seeded 80/20 split."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise WorkloadError("the digits workload needs scikit-learn: "
                            "pip install 'eie_sim[digits]'") from None
    data = load_digits()
    return split(data.data / 16.0, data.target.astype(np.int64), seed)


def split(x: np.ndarray, y: np.ndarray, seed: int):
    """``(x_train, y_train, x_test, y_test)``: a seeded 80/20 split of the samples (axis 0)."""
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(0.8 * len(y))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


@dataclass
class MLP:
    """Float MLP: ``weights[i]`` is (outputs, inputs), ReLU after every layer but the last."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    masks: list[np.ndarray] = field(default_factory=list)

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Activations of every layer (pre-ReLU for the last), batch-major."""
        outs, h = [], x
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = h @ w.T + b
            outs.append(z)
            h = np.maximum(z, 0) if i < len(self.weights) - 1 else z
        return outs

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(np.argmax(self.forward(x)[-1], axis=1) == y))


def _train(model: MLP, x, y, *, epochs: int, rng: np.random.Generator, lr: float = 3e-3,
           batch: int = 64) -> None:
    """Adam on cross-entropy; pruned weights (mask 0) stay zero."""
    params = [*model.weights, *model.biases]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    n_layers = len(model.weights)
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch):
            idx = order[start: start + batch]
            xb, yb = x[idx], y[idx]
            acts = [xb]
            h = xb
            for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
                z = h @ w.T + b
                h = np.maximum(z, 0) if i < n_layers - 1 else z
                acts.append(h)
            logits = acts[-1]
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1.0
            grad = p / len(yb)
            gw, gb = [None] * n_layers, [None] * n_layers
            for i in range(n_layers - 1, -1, -1):
                gw[i] = grad.T @ acts[i]
                gb[i] = grad.sum(axis=0)
                if i:
                    grad = (grad @ model.weights[i]) * (acts[i] > 0)
            step += 1
            for j, (param, g) in enumerate(zip(params, [*gw, *gb], strict=True)):
                m[j] = 0.9 * m[j] + 0.1 * g
                v[j] = 0.999 * v[j] + 0.001 * g * g
                mhat = m[j] / (1 - 0.9**step)
                vhat = v[j] / (1 - 0.999**step)
                param -= lr * mhat / (np.sqrt(vhat) + 1e-8)
            for w, mask in zip(model.weights, model.masks, strict=True):
                w *= mask


@lru_cache(maxsize=2)
def _trained_dense(seed: int) -> tuple[MLP, tuple, np.random.Generator]:
    data = load_digits_data(seed)
    x_train, y_train = data[0], data[1]
    rng = np.random.default_rng(seed + 1)
    sizes = (x_train.shape[1], *HIDDEN, 10)
    weights = [rng.normal(0, np.sqrt(2.0 / n_in), (n_out, n_in))
               for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    model = MLP(weights=weights, biases=[np.zeros(n) for n in sizes[1:]],
                masks=[np.ones_like(w) for w in weights])
    _train(model, x_train, y_train, epochs=40, rng=rng)
    return model, data, rng


def _copy(model: MLP) -> MLP:
    return MLP([w.copy() for w in model.weights], [b.copy() for b in model.biases],
               [np.ones_like(w) for w in model.weights])


def _cache_path(kind: str, seed: int) -> Path | None:
    """Where a trained model is cached: keyed by what it is, the seed and this file's code (so a
    change to the training code retrains), in :func:`eie_sim.workloads.cache.cache_root`
    (None: caching is off)."""
    from eie_sim.workloads.cache import cache_root

    root = cache_root()
    if root is None:
        return None
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return root / f"digits-{kind}-seed{seed}-{code}.npz"


def _cached(kind: str, seed: int, train) -> list[MLP]:
    """``train()`` -> list of MLPs, cached on disk (a failure to cache is not an error)."""
    path = _cache_path(kind, seed)
    if path is None:
        return train()
    try:
        with np.load(path, allow_pickle=False) as data:
            count = int(data["count"])
            return [MLP(*([data[f"{i}.{part}.{j}"] for j in range(int(data[f"{i}.layers"]))]
                          for part in ("w", "b", "m"))) for i in range(count)]
    except (OSError, KeyError, ValueError):
        pass
    models = train()
    arrays: dict[str, np.ndarray] = {"count": np.array(len(models))}
    for i, model in enumerate(models):
        arrays[f"{i}.layers"] = np.array(len(model.weights))
        for part, values in (("w", model.weights), ("b", model.biases), ("m", model.masks)):
            for j, a in enumerate(values):
                arrays[f"{i}.{part}.{j}"] = a
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except OSError:
        pass
    return models


def train_nm_mlp(seed: int = DEFAULT_SEED, n: int = 2, m: int = 4) -> tuple[MLP, tuple]:
    """The same trained network, N:M-pruned along its inputs and fine-tuned (cached on disk)."""
    (model,) = _cached(f"nm{n}-{m}", seed, lambda: [_train_nm_mlp(seed, n, m)])
    return model, load_digits_data(seed)


def _train_nm_mlp(seed: int, n: int, m: int) -> MLP:
    from eie_sim.compress import nm_prune

    dense, data, _ = _trained_dense(seed)
    model = _copy(dense)
    rng = np.random.default_rng(seed + 2)
    for i, w in enumerate(model.weights):
        model.masks[i] = nm_prune(w, n, m).astype(np.float64)
        w *= model.masks[i]
    _train(model, data[0], data[1], epochs=15, rng=rng, lr=1e-3)
    return model


def evaluate_tensor_core(config=None, *, seed: int = DEFAULT_SEED, n: int = 2, m: int = 4,
                         engine: str = "fast", energy: str = "45nm") -> dict:
    """All test images, as one batch, through the N:M tensor core (default: iso-eie preset).

    The float MLP is pruned N:M with fine-tuning, quantized like every eie_sim layer (4-bit
    shared weights, Q7.8 bias) and run through :func:`eie_sim.simulate` (bias added by the
    tensor core's epilogue, ReLU on the next layer's input). Returns ``float_accuracy`` (the
    N:M-pruned float model), ``simulated_accuracy`` (the tensor-core datapath), ``cycles``,
    ``energy_pj`` and ``outputs_match_reference``.
    """
    from eie_sim.config import STCConfig
    from eie_sim.simulate import simulate
    from eie_sim.workloads import Workload

    model, (_, _, x_test, y_test) = train_nm_mlp(seed, n, m)
    config = (config or STCConfig.preset("iso-eie", pattern=f"{n}:{m}")).replace(
        batch=len(y_test))
    layers = quantize_mlp(model)
    wl = Workload(name="digits-mlp", layers=layers, inputs=image_input(x_test.T), chained=True)
    result = simulate(config, wl, engine=engine, energy=energy, nm_prune=False)
    logits = result.layers[-1].outputs
    return {
        "pattern": f"{n}:{m}",
        "images": int(len(y_test)),
        "float_accuracy": model.accuracy(x_test, y_test),
        "simulated_accuracy": float(np.mean(np.argmax(logits, axis=0) == y_test)),
        "cycles": int(result.cycles),
        "energy_pj": result.energy.total_pj if result.energy is not None else None,
        "outputs_match_reference": bool(result.outputs_match_reference),
    }


def train_pruned_mlp(seed: int = DEFAULT_SEED, density=TARGET_DENSITY) -> tuple[MLP, MLP, tuple]:
    """Train, then prune iteratively with fine-tuning. Returns (dense model, pruned, data);
    the models are cached on disk (keyed by seed, densities and the code)."""
    kind = "pruned-" + "-".join(f"{d:g}" for d in density)
    dense, model = _cached(kind, seed, lambda: list(_train_pruned_mlp(seed, density)))
    return dense, model, load_digits_data(seed)


def _train_pruned_mlp(seed: int, density) -> tuple[MLP, MLP]:
    trained, data, _ = _trained_dense(seed)
    dense = _copy(trained)
    model = _copy(trained)
    prune_and_fine_tune(model, density, data[0], data[1], seed)
    return dense, model


def prune_and_fine_tune(model: MLP, density, x_train, y_train, seed: int) -> None:
    """Magnitude-prune every layer to 60 %, 40 % and then its target ``density[i]`` (never
    below it), each step followed by 15 epochs of fine-tuning at lr 1e-3 with the pruned
    weights held at zero (in place)."""
    from eie_sim.compress import magnitude_prune

    rng = np.random.default_rng(seed + 3)
    for fraction in (0.6, 0.4, None):
        for i, w in enumerate(model.weights):
            keep = density[i] if fraction is None else max(density[i], fraction)
            model.masks[i] = magnitude_prune(w, keep).astype(np.float64)
            w *= model.masks[i]
        _train(model, x_train, y_train, epochs=15, rng=rng, lr=1e-3)


def quantize_mlp(model: MLP) -> tuple[QuantizedLayer, ...]:
    """4-bit weight sharing + 16-bit fixed point for every layer."""
    return tuple(QuantizedLayer.from_dense(f"digits-fc{i + 1}", w, b)
                 for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)))


def image_input(pixels: np.ndarray) -> np.ndarray:
    """An image's pixels (in [0, 1]) as Q7.8 input activations."""
    return quantize(pixels, ACT_FRAC_BITS)


@lru_cache(maxsize=2)
def digits_model(seed: int = DEFAULT_SEED):
    """(float pruned model, quantized layers, test images, test labels, float accuracy)."""
    _, model, (_, _, x_test, y_test) = train_pruned_mlp(seed)
    return model, quantize_mlp(model), x_test, y_test, model.accuracy(x_test, y_test)


def evaluate(config=None, *, seed: int = DEFAULT_SEED, engine: str = "fast",
             limit: int | None = None, energy: str = "45nm") -> dict:
    """Run test images through the simulated accelerator; accuracy, sparsity, cycles, energy.

    Returns a dict with ``float_accuracy``, ``simulated_accuracy`` (fractions),
    ``activation_density`` per layer (mean fraction of broadcast inputs), ``cycles_per_image``,
    ``energy_pj_per_image``, ``images`` and ``outputs_match_reference``.
    """
    from eie_sim.config import EIEConfig
    from eie_sim.simulate import simulate
    from eie_sim.workloads import Workload

    config = config or EIEConfig(num_pes=16)
    model, layers, x_test, y_test, float_acc = digits_model(seed)
    n = len(y_test) if limit is None else min(limit, len(y_test))
    correct = 0
    cycles = energy_pj = 0.0
    density = np.zeros(len(layers))
    match = True
    for i in range(n):
        wl = Workload(name="digits-mlp", layers=layers, inputs=image_input(x_test[i]),
                      chained=True)
        result = simulate(config, wl, engine=engine, energy=energy)
        logits = result.layers[-1].outputs
        correct += int(np.argmax(logits) == y_test[i])
        cycles += result.cycles
        energy_pj += result.energy.total_pj
        density += [layer.activation_density for layer in result.layers]
        match &= result.outputs_match_reference
    return {
        "images": n,
        "float_accuracy": float_acc,
        "simulated_accuracy": correct / n,
        "activation_density": (density / n).tolist(),
        "weight_density": [layer.weight_density for layer in layers],
        "cycles_per_image": cycles / n,
        "energy_pj_per_image": energy_pj / n,
        "outputs_match_reference": bool(match),
    }


def digits_workload(seed: int = DEFAULT_SEED):
    """Workload ``digits-mlp``: the quantized MLP on the first test image (its label in
    ``info``). Building it trains the model but never simulates: accuracy over the test set is
    the explicit evaluation :func:`evaluate` (and :func:`evaluate_tensor_core`)."""
    from eie_sim.workloads import Workload

    _, layers, x_test, y_test, float_acc = digits_model(seed)
    return Workload(name="digits-mlp", layers=layers, inputs=image_input(x_test[0]), chained=True,
                    description="ReLU MLP 64-128-64-10 on sklearn digits, pruned + 4-bit",
                    info={"label": int(y_test[0]), "test_images": int(len(y_test)),
                          "float_accuracy": float_acc})
