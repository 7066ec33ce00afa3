"""A trained LSTM for ESE: scikit-learn's bundled digits read as sequences (no download).

Each 8x8 image is a sequence of 8 time steps, one row of 8 pixels (scaled to [0, 1]) per step,
the classic "row by row" sequence task; the class is read from the last step's output y_T.
Pipeline (seeded, deterministic, numpy only; ~6-14 s, cached on disk):

1. train an LSTMP with peepholes (:mod:`eie_sim.workloads.lstm`'s equations exactly: 8 inputs,
   32 cells, projection 16) and a float 10 x 16 softmax readout on y_T, by backpropagation
   through time (Adam, cross-entropy, mini-batches of 64) on a seeded 80 % of the 1797 images;
2. prune it twice, once per method, each of the nine matrices on its own (``magnitude``: the
   whole matrix's largest; ``load-balance``: ESE's, the same density in every PE's
   interleaved rows over ``PRUNE_PES``), in two steps (50 %, then the target density of 25 %),
   fine-tuning the surviving weights after each; peepholes, biases and the readout are
   kept;
3. quantize to ESE's storage (12-bit weights, Q3.12 activations, lookup-table sigmoid / tanh:
   :func:`~eie_sim.workloads.lstm.quantize_lstm`) and run the 360 test images as utterances
   through the simulated ESE; the readout (on the host, float) classifies the simulated y_T.

:func:`evaluate` reports the float accuracy of the dense and the pruned model and the accuracy
of the simulated fixed-point datapath (whose outputs equal the fixed-point reference bit for
bit: ``outputs_match_reference``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from eie_sim.compress.pruning import prune
from eie_sim.errors import WorkloadError
from eie_sim.workloads.lstm import FloatLSTM, LSTMSpec, lstm_forward_float, quantize_lstm
from eie_sim.workloads.paper import DEFAULT_SEED as PAPER_SEED

#: The project's workload seed (:data:`eie_sim.workloads.paper.DEFAULT_SEED`), so that the
#: registered ``digits-lstm`` and :func:`evaluate` use the same trained model.
DEFAULT_SEED = PAPER_SEED
#: Weight density every pruned matrix keeps (peepholes, biases and the readout are not pruned).
TARGET_DENSITY = 0.25
#: PEs the load-balance pruning balances over (and the PEs of :func:`evaluate`'s default ESE).
PRUNE_PES = 8
PRUNINGS = ("magnitude", "load-balance")
STEPS, INPUTS, HIDDEN, PROJECTION, CLASSES = 8, 8, 32, 16, 10
_EPOCHS, _FINE_TUNE_EPOCHS, _BATCH = 30, 6, 64


def load_sequences(seed: int = DEFAULT_SEED):
    """``(x_train, y_train, x_test, y_test)``: x of shape (images, 8 steps, 8 pixels) in [0, 1],
    a seeded 80/20 split of scikit-learn's digits."""
    from eie_sim.workloads.digits import load_digits_data

    x_train, y_train, x_test, y_test = load_digits_data(seed)
    return (x_train.reshape(-1, STEPS, INPUTS), y_train, x_test.reshape(-1, STEPS, INPUTS),
            y_test)


# --------------------------------------------------------------------------- the float model
@dataclass
class LSTMClassifier:
    """An LSTMP with peepholes (gate order i, f, c, o; :class:`FloatLSTM`'s arrays) and a float
    readout ``logits = wout @ y_T + bout``. ``masks`` (1 = kept) keep pruned weights at zero."""

    wx: np.ndarray    # (4, H, I)
    wr: np.ndarray    # (4, H, R)
    peep: np.ndarray  # (3, H): i, f (on c_{t-1}), o (on c_t)
    bias: np.ndarray  # (4, H)
    wy: np.ndarray    # (R, H)
    wout: np.ndarray  # (C, R)
    bout: np.ndarray  # (C,)
    mx: np.ndarray | None = None
    mr: np.ndarray | None = None
    my: np.ndarray | None = None

    PARAMS = ("wx", "wr", "peep", "bias", "wy", "wout", "bout")

    @classmethod
    def init(cls, rng: np.random.Generator) -> LSTMClassifier:
        s = 1.0 / np.sqrt(INPUTS + PROJECTION)
        bias = np.zeros((4, HIDDEN))
        bias[1] = 1.0  # forget gate open at the start
        return cls(wx=rng.uniform(-s, s, (4, HIDDEN, INPUTS)),
                   wr=rng.uniform(-s, s, (4, HIDDEN, PROJECTION)),
                   peep=rng.uniform(-0.1, 0.1, (3, HIDDEN)), bias=bias,
                   wy=rng.uniform(-1, 1, (PROJECTION, HIDDEN)) / np.sqrt(HIDDEN),
                   wout=rng.uniform(-1, 1, (CLASSES, PROJECTION)) / np.sqrt(PROJECTION),
                   bout=np.zeros(CLASSES))

    def copy(self) -> LSTMClassifier:
        return LSTMClassifier(*(getattr(self, p).copy() for p in self.PARAMS),
                              *(None if m is None else m.copy()
                                for m in (self.mx, self.mr, self.my)))

    def spec(self, prune_method: str = "magnitude", density: float = 1.0,
             utterances: int = 1) -> LSTMSpec:
        """The :class:`LSTMSpec` of this model (shape, pruning, ``utterances`` sequences)."""
        return LSTMSpec(name="digits-lstm", input_size=INPUTS, hidden=HIDDEN,
                        projection=PROJECTION, peepholes=True, density=density, steps=STEPS,
                        utterances=utterances, prune=prune_method, prune_pes=PRUNE_PES)

    def float_lstm(self, spec: LSTMSpec) -> FloatLSTM:
        return FloatLSTM(spec=spec, wx=self.wx, wr=self.wr, peep=self.peep, bias=self.bias,
                         wy=self.wy)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        """Logits (batch, C) of sequences ``x`` (batch, T, I), and each step's values."""
        b = x.shape[0]
        y, c = np.zeros((b, PROJECTION)), np.zeros((b, HIDDEN))
        w = np.concatenate([self.wx, self.wr], axis=2).reshape(4 * HIDDEN, -1)
        cache = []
        for t in range(x.shape[1]):
            a = np.concatenate([x[:, t], y], axis=1)
            z = (a @ w.T).reshape(b, 4, HIDDEN) + self.bias
            z[:, 0] += self.peep[0] * c
            z[:, 1] += self.peep[1] * c
            z[:, 2] *= 2.0
            s = _sigmoid(z[:, :3])  # tanh(z) = 2 sigmoid(2 z) - 1
            i, f, g = s[:, 0], s[:, 1], 2.0 * s[:, 2] - 1.0
            c_prev, c = c, f * c + i * g
            o = _sigmoid(z[:, 3] + self.peep[2] * c)
            tc = 2.0 * _sigmoid(2.0 * c) - 1.0
            m = o * tc
            y = m @ self.wy.T
            cache.append(dict(a=a, c_prev=c_prev, c=c, i=i, f=f, g=g, o=o, tc=tc, m=m))
        return y @ self.wout.T + self.bout, cache

    def gradients(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, dict]:
        """Mean cross-entropy of a batch and its gradient for every parameter (BPTT)."""
        b = x.shape[0]
        logits, cache = self.forward(x)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = float(-np.mean(np.log(p[np.arange(b), labels] + 1e-300)))
        p[np.arange(b), labels] -= 1.0
        dlogits = p / b
        y_last = cache[-1]["m"] @ self.wy.T
        grads = {"wout": dlogits.T @ y_last, "bout": dlogits.sum(axis=0)}
        w = np.concatenate([self.wx, self.wr], axis=2).reshape(4 * HIDDEN, -1)
        dw = np.zeros_like(w)
        dbias, dpeep, dwy = np.zeros_like(self.bias), np.zeros_like(self.peep), np.zeros_like(
            self.wy)
        dy = dlogits @ self.wout
        dc_next = np.zeros((b, HIDDEN))
        for s in reversed(cache):
            dwy += dy.T @ s["m"]
            dm = dy @ self.wy
            dzo = dm * s["tc"] * s["o"] * (1 - s["o"])
            dc = dc_next + dm * s["o"] * (1 - s["tc"] ** 2) + dzo * self.peep[2]
            dzi = dc * s["g"] * s["i"] * (1 - s["i"])
            dzf = dc * s["c_prev"] * s["f"] * (1 - s["f"])
            dzg = dc * s["i"] * (1 - s["g"] ** 2)
            dc_next = dc * s["f"] + dzi * self.peep[0] + dzf * self.peep[1]
            dpeep += np.stack([(dzi * s["c_prev"]).sum(0), (dzf * s["c_prev"]).sum(0),
                               (dzo * s["c"]).sum(0)])
            dz = np.stack([dzi, dzf, dzg, dzo], axis=1)  # (b, 4, H)
            dbias += dz.sum(axis=0)
            dz = dz.reshape(b, 4 * HIDDEN)
            dw += dz.T @ s["a"]
            dy = (dz @ w)[:, INPUTS:]
        dw = dw.reshape(4, HIDDEN, INPUTS + PROJECTION)
        grads.update(wx=dw[:, :, :INPUTS], wr=dw[:, :, INPUTS:], peep=dpeep, bias=dbias, wy=dwy)
        return loss, grads

    def accuracy(self, x: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(np.argmax(self.forward(x)[0], axis=1) == labels))

    def classify_outputs(self, y_last: np.ndarray) -> np.ndarray:
        """Classes from last-step outputs y_T (R, batch), real-valued."""
        return np.argmax(self.wout @ y_last + self.bout[:, None], axis=0)

    def prune(self, method: str, density: float) -> None:
        """Prune each of the nine matrices (each gate's W_x and W_r, W_ym) on its own; the
        masks keep them pruned in later training."""
        def mask(w):
            return prune(w, method, density, num_pes=PRUNE_PES).astype(np.float64)

        self.mx = np.stack([mask(m) for m in self.wx])
        self.mr = np.stack([mask(m) for m in self.wr])
        self.my = mask(self.wy)
        self.apply_masks()

    def apply_masks(self) -> None:
        for w, m in ((self.wx, self.mx), (self.wr, self.mr), (self.wy, self.my)):
            if m is not None:
                w *= m


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp is several times faster than tanh in numpy; clipped so it never overflows
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def _train(model: LSTMClassifier, x, y, *, epochs: int, rng: np.random.Generator,
           lr: float) -> None:
    """Adam on cross-entropy, gradients clipped to norm 5; pruned weights stay zero."""
    m = {p: np.zeros_like(getattr(model, p)) for p in model.PARAMS}
    v = {p: np.zeros_like(getattr(model, p)) for p in model.PARAMS}
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), _BATCH):
            idx = order[start: start + _BATCH]
            _, grads = model.gradients(x[idx], y[idx])
            norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
            scale = min(1.0, 5.0 / (norm + 1e-12))
            step += 1
            for p in model.PARAMS:
                g = grads[p] * scale
                m[p] = 0.9 * m[p] + 0.1 * g
                v[p] = 0.999 * v[p] + 0.001 * g * g
                update = lr * (m[p] / (1 - 0.9**step)) / (np.sqrt(v[p] / (1 - 0.999**step))
                                                           + 1e-8)
                getattr(model, p)[...] -= update
            model.apply_masks()


def _train_all(seed: int, density: float) -> list[LSTMClassifier]:
    """[dense, magnitude-pruned, load-balance-pruned], each pruned one fine-tuned."""
    try:  # small matrices: BLAS threads only cost (several x slower on a shared machine)
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(1):
            return _train_all_threads(seed, density)
    return _train_all_threads(seed, density)


def _train_all_threads(seed: int, density: float) -> list[LSTMClassifier]:
    x_train, y_train, _, _ = load_sequences(seed)
    rng = np.random.default_rng(seed + 1)
    dense = LSTMClassifier.init(rng)
    _train(dense, x_train, y_train, epochs=_EPOCHS, rng=rng, lr=1e-2)
    out = [dense]
    for k, method in enumerate(PRUNINGS):
        model = dense.copy()
        tune = np.random.default_rng(seed + 2 + k)
        for step in (0.5, density):
            model.prune(method, max(step, density))
            _train(model, x_train, y_train, epochs=_FINE_TUNE_EPOCHS, rng=tune, lr=3e-3)
        out.append(model)
    return out


# --------------------------------------------------------------------------- the disk cache
def cache_path(seed: int, density: float) -> Path:
    """Where the trained models are cached: keyed by the seed, the density and the code of this
    file and of the pruning (a change to either retrains). ``EIE_SIM_CACHE_DIR`` overrides the
    directory (default ``$XDG_CACHE_HOME/eie_sim``, else ``~/.cache/eie_sim``)."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(Path(prune.__code__.co_filename).read_bytes())
    root = os.environ.get("EIE_SIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "eie_sim")
    return Path(root) / f"digits-lstm-seed{seed}-d{density:g}-{h.hexdigest()[:16]}.npz"


def _load(path: Path) -> list[LSTMClassifier] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            models = []
            for k in range(1 + len(PRUNINGS)):
                params = [data[f"{k}.{p}"] for p in LSTMClassifier.PARAMS]
                masks = [data[f"{k}.{m}"] if f"{k}.{m}" in data else None
                         for m in ("mx", "mr", "my")]
                models.append(LSTMClassifier(*params, *masks))
            return models
    except (OSError, KeyError, ValueError):
        return None


def _save(path: Path, models: list[LSTMClassifier]) -> None:
    arrays = {}
    for k, model in enumerate(models):
        for p in (*LSTMClassifier.PARAMS, "mx", "mr", "my"):
            if getattr(model, p) is not None:
                arrays[f"{k}.{p}"] = getattr(model, p)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except OSError:  # a failure to cache is not an error
        pass


@lru_cache(maxsize=2)
def trained_models(seed: int = DEFAULT_SEED,
                   density: float = TARGET_DENSITY) -> dict[str, LSTMClassifier]:
    """``{"dense": ..., "magnitude": ..., "load-balance": ...}``, trained once per seed and
    density and code version, then read from the disk cache (:func:`cache_path`)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise WorkloadError(f"seed must be an integer >= 0, got {seed!r}")
    if not 0.0 < density <= 1.0:
        raise WorkloadError(f"density must be in (0, 1], got {density!r}")
    path = cache_path(seed, density)
    models = _load(path)
    if models is None:
        with _training_lock(path):  # parallel test workers train once, then read the cache
            models = _load(path)
            if models is None:
                models = _train_all(seed, density)
                _save(path, models)
    return dict(zip(("dense", *PRUNINGS), models, strict=True))


@contextmanager
def _training_lock(path: Path):
    """An exclusive lock on ``path``.lock while training (POSIX; without it, no lock)."""
    try:
        import fcntl

        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path.with_suffix(".lock"), "a")
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
    finally:
        fh.close()


# --------------------------------------------------------------------------- ESE runs
def sequence_input(x: np.ndarray, act_frac_bits: int = 12) -> np.ndarray:
    """Sequences (batch, T, I) as the LSTM workload's int16 input (I, batch x T): utterance u's
    step t in column u * T + t."""
    from eie_sim.formats.fixed_point import quantize

    b, t, i = x.shape
    return quantize(np.ascontiguousarray(x.transpose(2, 0, 1)).reshape(i, b * t), act_frac_bits)


def digits_lstm_workload(seed: int = DEFAULT_SEED, prune_method: str = "load-balance",
                         limit: int | None = None):
    """Workload ``digits-lstm``: the pruned, quantized LSTM on the test images as utterances
    (all 360, or the first ``limit``); labels in ``info``."""
    from eie_sim.workloads import Workload

    if prune_method not in PRUNINGS:
        raise WorkloadError(f"digits-lstm is trained with pruning {', '.join(PRUNINGS)}; got "
                            f"{prune_method!r}")
    model = trained_models(seed)[prune_method]
    _, _, x_test, y_test = load_sequences(seed)
    if limit is not None:
        x_test, y_test = x_test[:limit], y_test[:limit]
    spec = model.spec(prune_method, TARGET_DENSITY, utterances=len(y_test))
    layer = quantize_lstm(model.float_lstm(spec))
    return Workload(
        name="digits-lstm", layers=(layer,), inputs=sequence_input(x_test),
        description=f"LSTMP 8 in, 32 cells, projection 16, peepholes, trained on sklearn digits "
                    f"read row by row (8 steps), {TARGET_DENSITY:.0%} dense ({prune_method} "
                    f"pruning), 12-bit; {len(y_test)} test images as utterances",
        info={"labels": y_test.tolist(), "prune": prune_method})


def evaluate(config=None, *, seed: int = DEFAULT_SEED, prune_method: str = "load-balance",
             engine: str = "fast", limit: int | None = None) -> dict:
    """The test images through the simulated ESE; float vs fixed-point accuracy.

    Returns ``dense_float_accuracy`` (the unpruned float model), ``float_accuracy`` (the pruned
    float model, :func:`~eie_sim.workloads.lstm.lstm_forward_float` on the real inputs),
    ``fixed_accuracy`` (the readout on the simulated y_T), ``outputs_match_reference``,
    ``max_abs_error`` (simulated vs float y, all steps), ``cycles``, ``images``,
    ``weight_density`` and ``pe_nnz_spread`` (largest minus smallest per-PE non-zeros over the
    phases, ``PRUNE_PES`` PEs).
    """
    from eie_sim.compress.pruning import pe_nonzeros
    from eie_sim.config import ESEConfig
    from eie_sim.simulate import simulate

    config = config or ESEConfig(channels=32, num_pes=PRUNE_PES)
    models = trained_models(seed)
    model = models[prune_method]
    wl = digits_lstm_workload(seed, prune_method, limit)
    labels = np.asarray(wl.info["labels"])
    _, _, x_test, _ = load_sequences(seed)
    x_test = x_test[: len(labels)]
    r = simulate(config, wl, engine=engine, energy=None)
    layer = wl.layers[0]
    y_sim = r.layers[0].outputs.astype(np.float64) / (1 << layer.act_frac_bits)
    y_float = lstm_forward_float(model.float_lstm(layer.spec),
                                 x_test.transpose(2, 0, 1).reshape(INPUTS, -1))
    last = np.arange(len(labels)) * STEPS + STEPS - 1
    spread = 0
    for m in layer.phases:
        dense = np.zeros((m.n_rows, m.n_cols), bool)
        dense[m.row_idx, np.repeat(np.arange(m.n_cols), np.diff(m.col_ptr))] = True
        spread = max(spread, int(np.ptp(pe_nonzeros(dense, PRUNE_PES))))
    return {
        "prune": prune_method,
        "images": int(len(labels)),
        "dense_float_accuracy": models["dense"].accuracy(x_test, labels),
        "float_accuracy": float(np.mean(model.classify_outputs(y_float[:, last]) == labels)),
        "fixed_accuracy": float(np.mean(model.classify_outputs(y_sim[:, last]) == labels)),
        "outputs_match_reference": bool(r.outputs_match_reference),
        "max_abs_error": float(np.max(np.abs(y_sim - y_float))),
        "cycles": int(r.cycles),
        "weight_density": layer.weight_density,
        "pe_nnz_spread": spread,
    }
