"""Structure statistics of pruned FC layers: definitions, measurement, and measured defaults.

A pruned layer ``W`` (``outputs x inputs``, ``nnz`` non-zeros, overall density
``p = nnz / (outputs * inputs)``) and its input activations over ``S`` samples are summarized
by four numbers (:class:`LayerStatistics`):

``row_spread`` (dimensionless, >= 0)
    With ``r_i`` the non-zeros of output row ``i`` (over ``inputs`` columns) and ``CV`` their
    coefficient of variation (sample standard deviation / mean over the rows),
    ``row_spread = sqrt(max(0, CV**2 - (1 - p) / (inputs * p)))``: the spread of the rows'
    densities beyond what binomial sampling of i.i.d. positions gives (``(1 - p) / (inputs p)``
    is a binomial's squared CV). It is 0 for uniformly placed non-zeros, and for a layer whose
    row ``i`` keeps each weight with probability ``p * a_i`` (``a`` i.i.d., mean 1, CV ``s``)
    it estimates ``s`` (bias of order ``1 / inputs``).
``column_spread`` (dimensionless, >= 0)
    The same for the non-zeros ``c_j`` of input column ``j`` (over ``outputs`` rows).
``activation_column_correlation`` (dimensionless, in [-1, 1])
    Spearman rank correlation (average ranks for ties) between an input's firing frequency
    ``f_j`` (the fraction of the ``S`` samples with activation ``j > 0``) and its column's
    non-zero count ``c_j``. Positive: the inputs that fire often have the denser columns.
``activation_persistence`` (dimensionless, in [0, 1])
    How much of whether an input fires is fixed by which input it is rather than by the sample:
    the variance of the inputs' firing probabilities over ``d (1 - d)`` (``d`` the mean
    activation density), estimated as ``(var_j f_j - mean_j f_j (1 - f_j) / (S - 1)) / (d (1 -
    d))`` (the second term removes the binomial noise of ``S`` samples), clipped to [0, 1].
    0: every input fires with the same probability (i.i.d. positions, eie_sim's uniform mode);
    1: the same inputs fire for every sample.

:data:`REALISTIC` holds the defaults, measured by :func:`measure_trained_models` (the comment
above :data:`REALISTIC` says exactly how); ``tests/test_statistics.py`` re-measures them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eie_sim.errors import WorkloadError

#: Inclusive ranges of the parameters: (low, high).
RANGES: dict[str, tuple[float, float]] = {
    "row_spread": (0.0, 2.0),
    "column_spread": (0.0, 2.0),
    "activation_column_correlation": (-1.0, 1.0),
    "activation_persistence": (0.0, 1.0),
}


@dataclass(frozen=True)
class LayerStatistics:
    """Row/column density spread and activation structure of a pruned layer (module docstring).

    Attributes
    ----------
    row_spread : float
        CV of the rows' densities beyond binomial noise, dimensionless, in [0, 2].
    column_spread : float
        CV of the columns' densities beyond binomial noise, dimensionless, in [0, 2].
    activation_column_correlation : float
        Spearman correlation of an input's firing frequency with its column's non-zero count,
        in [-1, 1].
    activation_persistence : float
        Share of the firing variance fixed by the input's identity, in [0, 1].
    """

    row_spread: float
    column_spread: float
    activation_column_correlation: float
    activation_persistence: float

    def __post_init__(self) -> None:
        for name, (low, high) in RANGES.items():
            v = getattr(self, name)
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float, np.floating, np.integer))
                or not low <= float(v) <= high
            ):
                raise WorkloadError(f"{name} must be a number in [{low:g}, {high:g}], got {v!r}")

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in RANGES}


#: No structure: i.i.d. positions and inputs (what uniform mode draws).
UNIFORM = LayerStatistics(0.0, 0.0, 0.0, 0.0)

# The defaults of the realistic mode, measured (and re-measured by tests/test_statistics.py) by
# ``measure_trained_models(seed=0)``: four ReLU MLPs trained here on scikit-learn's bundled data
# (digits: the project's 64-128-64-10 ``digits_model(0)`` and a deeper 64-256-128-64-10;
# breast cancer: 30-128-128-64-2; wine: 13-128-128-64-3), each pruned by magnitude with
# fine-tuning exactly as eie_sim.workloads.digits does (to 25 % per hidden layer, 50 % for the
# output layer). For every layer whose input is a hidden layer's ReLU output and that has >= 32
# inputs and >= 32 outputs (7 layers: digits-mlp fc2; digits-deep fc2, fc3; breast-cancer fc2,
# fc3; wine fc2, fc3) the statistics were measured on the pruned float weights and the ReLU
# activations of every sample of the data set; each default is the mean over those 7 layers
# (each layer weighing the same), rounded to 2 decimals. Per layer they range: row spread
# 0-0.21, column spread 0-0.40, correlation -0.26..+0.27, persistence 0.02-0.55 (medians 0,
# 0.11, -0.02, 0.29). Nothing was fitted to the EIE paper's timings.
REALISTIC = LayerStatistics(
    row_spread=0.07,
    column_spread=0.14,
    activation_column_correlation=-0.01,
    activation_persistence=0.27,
)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties given their average rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.arange(1, x.size + 1, dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); 0 if either is constant."""
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    rx -= rx.mean()
    ry -= ry.mean()
    den = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / den if den > 0 else 0.0


def excess_spread(counts: np.ndarray, trials: int, p: float) -> float:
    """``sqrt(max(0, CV(counts)**2 - (1 - p) / (trials p)))``, CV with the sample deviation."""
    counts = np.asarray(counts, dtype=np.float64)
    mean = float(counts.mean()) if counts.size else 0.0
    if counts.size < 2 or mean <= 0 or not 0 < p < 1:
        return 0.0
    cv2 = float(counts.var(ddof=1)) / mean**2
    return math.sqrt(max(0.0, cv2 - (1.0 - p) / (trials * p)))


def persistence(firing: np.ndarray) -> float:
    """Activation persistence of a ``samples x inputs`` 0/1 firing matrix (module docstring)."""
    samples = firing.shape[0]
    f = firing.mean(axis=0)
    d = float(f.mean())
    if samples < 2 or f.size < 2 or not 0 < d < 1:
        return 0.0
    var_pi = float(f.var(ddof=1)) - float(np.mean(f * (1 - f))) / (samples - 1)
    return min(1.0, max(0.0, var_pi / (d * (1 - d))))


def column_counts(col_ptr: np.ndarray) -> np.ndarray:
    """Non-zeros per column of a CSC structure."""
    return np.diff(np.asarray(col_ptr, dtype=np.int64))


def measure_counts(
    row_counts: np.ndarray, col_counts: np.ndarray, activations: np.ndarray
) -> LayerStatistics:
    """:class:`LayerStatistics` from the non-zeros per row and per column and the activations.

    Parameters
    ----------
    row_counts : numpy.ndarray, shape (outputs,)
        Non-zeros of each row.
    col_counts : numpy.ndarray, shape (inputs,)
        Non-zeros of each column.
    activations : numpy.ndarray, shape (samples, inputs) or (inputs,)
        Input activations (any unit); an input fires in a sample when it is > 0.
    """
    row_counts = np.asarray(row_counts)
    col_counts = np.asarray(col_counts)
    n_out, n_in = row_counts.size, col_counts.size
    acts = np.asarray(activations)
    if acts.ndim == 1:
        acts = acts[None, :]
    if acts.ndim != 2 or acts.shape[1] != n_in:
        raise WorkloadError(
            f"activations must have shape (samples, {n_in}), got {np.shape(activations)}"
        )
    nnz = int(col_counts.sum())
    p = nnz / (n_in * n_out) if n_in * n_out else 0.0
    firing = (acts > 0).astype(np.float64)
    return LayerStatistics(
        row_spread=min(2.0, excess_spread(row_counts, n_in, p)),
        column_spread=min(2.0, excess_spread(col_counts, n_out, p)),
        activation_column_correlation=spearman(firing.mean(axis=0), col_counts),
        activation_persistence=persistence(firing),
    )


def measure(weights, activations: np.ndarray) -> LayerStatistics:
    """Measure the :class:`LayerStatistics` of a pruned layer and its input activations.

    Parameters
    ----------
    weights : numpy.ndarray of shape (outputs, inputs), or a QuantizedLayer
        The pruned weights (non-zero = kept), dense, or a compressed layer (its CSC structure).
    activations : numpy.ndarray, shape (samples, inputs) or (inputs,)
        The layer's input activations over ``samples`` inputs (an input fires when > 0). The
        correlation and the persistence need several samples; with one, the persistence is 0
        and the correlation is that of the 0/1 firing pattern.

    Returns
    -------
    LayerStatistics
    """
    if hasattr(weights, "col_ptr") and hasattr(weights, "row_idx"):
        cols = column_counts(weights.col_ptr)
        rows = np.bincount(np.asarray(weights.row_idx, dtype=np.int64), minlength=weights.n_out)
        return measure_counts(rows, cols, activations)
    w = np.asarray(weights)
    if w.ndim != 2:
        raise WorkloadError(f"weights must be a 2-D (outputs, inputs) array, got {w.shape}")
    nz = w != 0
    return measure_counts(nz.sum(axis=1), nz.sum(axis=0), activations)


# ----------------------------------------------------------------------------- trained models

#: Models trained for the defaults: name -> (scikit-learn data set, hidden widths).
MODELS: dict[str, tuple[str, tuple[int, ...]]] = {
    "digits-mlp": ("digits", (128, 64)),
    "digits-deep": ("digits", (256, 128, 64)),
    "breast-cancer-mlp": ("breast_cancer", (128, 128, 64)),
    "wine-mlp": ("wine", (128, 128, 64)),
}
HIDDEN_DENSITY = 0.25
OUTPUT_DENSITY = 0.5
MIN_SIZE = 32


def _load(dataset: str, seed: int) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)``, seeded 80/20 split; digits pixels / 16, other
    features standardized with the training split's mean and deviation."""
    from eie_sim.workloads.digits import load_digits_data, split

    if dataset == "digits":
        return load_digits_data(seed)
    try:
        from sklearn import datasets
    except ImportError:
        raise WorkloadError("measuring the statistics needs scikit-learn") from None
    data = getattr(datasets, f"load_{dataset}")()
    x = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    x_train, y_train, x_test, y_test = split(x, y, seed)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


def _train_pruned(dataset: str, hidden: tuple[int, ...], seed: int):
    """Train a ReLU MLP and prune it like :func:`eie_sim.workloads.digits.train_pruned_mlp`.

    Same optimizer and schedule: Adam (lr 3e-3) for 40 epochs, then magnitude pruning per
    layer to 60 %, 40 % and the target density, each followed by 15 epochs of fine-tuning at
    lr 1e-3 with the pruned weights held at zero. Returns ``(model, data)``.
    """
    from eie_sim.workloads.digits import MLP, _train, prune_and_fine_tune

    data = _load(dataset, seed)
    x_train, y_train = data[0], data[1]
    classes = int(max(data[1].max(), data[3].max())) + 1
    rng = np.random.default_rng(seed + 1)
    sizes = (x_train.shape[1], *hidden, classes)
    weights = [
        rng.normal(0, math.sqrt(2.0 / n_in), (n_out, n_in))
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    model = MLP(weights=weights, biases=[np.zeros(n) for n in sizes[1:]],
                masks=[np.ones_like(w) for w in weights])
    _train(model, x_train, y_train, epochs=40, rng=rng)
    density = [HIDDEN_DENSITY] * len(hidden) + [OUTPUT_DENSITY]
    prune_and_fine_tune(model, density, x_train, y_train, seed)
    return model, data


def _model(name: str, seed: int):
    dataset, hidden = MODELS[name]
    if name == "digits-mlp":
        from eie_sim.workloads.digits import HIDDEN, train_pruned_mlp

        assert hidden == HIDDEN
        _, model, data = train_pruned_mlp(seed)
        return model, data
    # Trained models are cached on disk like the digits MLP's, keyed also by this file's code.
    import hashlib
    from pathlib import Path

    from eie_sim.workloads.digits import _cached

    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    kind = f"stats-{dataset}-{'x'.join(map(str, hidden))}-{code}"
    (model,) = _cached(kind, seed, lambda: [_train_pruned(dataset, hidden, seed)[0]])
    return model, _load(dataset, seed)


def measure_trained_models(seed: int = 0) -> dict:
    """Train and prune :data:`MODELS`, measure every layer, and aggregate.

    Parameters
    ----------
    seed : int
        Seed of the data split, the initialization and the training order (>= 0).

    Returns
    -------
    dict
        ``"layers"``: one dict per layer of every model with ``model``, ``layer`` (1-based),
        ``inputs``, ``outputs``, ``weight_density`` and ``activation_density`` (mean fraction
        of inputs > 0 over all samples of the data set; for the first layer the raw features),
        ``used`` (counts in the aggregate) and the four statistics; ``"models"``: per model the
        pruned float model's test ``accuracy`` (fraction); ``"aggregate"``: the
        :class:`LayerStatistics` whose fields are the means over the used layers (each layer
        weighing the same), rounded to 2 decimals.
    """
    layers, models = [], {}
    for name in MODELS:
        model, (x_train, y_train, x_test, y_test) = _model(name, seed)
        models[name] = {"accuracy": model.accuracy(x_test, y_test),
                        "hidden": list(MODELS[name][1])}
        x_all = np.concatenate([x_train, x_test])
        outs = model.forward(x_all)
        inputs = [x_all] + [np.maximum(z, 0) for z in outs[:-1]]
        for i, (w, acts) in enumerate(zip(model.weights, inputs, strict=True)):
            n_out, n_in = w.shape
            stats = measure(w, acts)
            layers.append({
                "model": name,
                "layer": i + 1,
                "inputs": n_in,
                "outputs": n_out,
                "weight_density": float(np.count_nonzero(w)) / w.size,
                "activation_density": float(np.mean(acts > 0)),
                "used": i > 0 and n_in >= MIN_SIZE and n_out >= MIN_SIZE,
                **stats.as_dict(),
            })
    used = [row for row in layers if row["used"]]
    aggregate = LayerStatistics(
        **{k: round(float(np.mean([row[k] for row in used])), 2) for k in RANGES}
    )
    return {"layers": layers, "models": models, "aggregate": aggregate}
