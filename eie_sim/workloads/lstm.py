"""LSTM workloads: the LSTMP layer ESE runs, NeuralTalk's LSTM, and their functional references.

An :class:`LSTMLayer` is one LSTM layer run over ``steps`` time steps on several utterances
(sequences), pruned and quantized the way ESE stores it (Han et al., "ESE: Efficient Speech
Recognition Engine with Sparse LSTM on FPGA", FPGA 2017): 12-bit linear-quantized weights (a
power-of-two scale per matrix, no codebook), 16-bit fixed-point activations, lookup-table
sigmoid / tanh. The layer is the Google LSTMP of Sak et al. (2014) with peepholes and a
projection::

    i_t = sigmoid(W_ix x_t + W_ir y_{t-1} + p_i * c_{t-1} + b_i)
    f_t = sigmoid(W_fx x_t + W_fr y_{t-1} + p_f * c_{t-1} + b_f)
    g_t = tanh(W_cx x_t + W_cr y_{t-1} + b_c)
    c_t = f_t * c_{t-1} + i_t * g_t
    o_t = sigmoid(W_ox x_t + W_or y_{t-1} + p_o * c_t + b_o)
    m_t = o_t * tanh(c_t)
    y_t = W_ym m_t                      (without a projection: y_t = m_t)

Each gate's two products are one sparse matrix-vector product (SpMV) over the concatenated
input ``[x_t; y_{t-1}]`` (the ``phases`` ``i, f, c, o``; NeuralTalk's 1201-input LSTM layer of
the EIE paper's Table III is this concatenation plus a bias column), the projection a fifth
(``y``). ``*`` is the element-wise product (the peepholes are diagonal matrices).

Fixed-point rules (what every engine matches bit for bit, :func:`lstm_forward_fixed`):

* weights: int16 holding 12-bit values in [-2047, 2047] with ``frac_bits`` per matrix, the
  most fraction bits whose range holds the matrix's largest weight (at most 15); a weight that
  rounds to zero is pruned by quantization; peepholes likewise (one format for the three);
* activations, cell state, gates, biases: int16 with ``act_frac_bits`` fraction bits (default
  12: Q3.12, range [-8, 8), step 1/4096);
* SpMV: ``acc_r = sum_j round_shift(w_rj * a_j, frac_bits)`` (round half up), summed exactly
  in a 40-bit accumulator (no overflow for up to 16384 inputs, so the order does not matter);
* adder tree: ``s = acc + round_shift(p * c, peep_frac_bits) + b``, exact;
* sigmoid and tanh: a table of ``lut_entries`` (2048) int16 entries over ``[-lut_range,
  lut_range)`` (8.0); the input is clipped to that range and the entry of its bin (step
  ``2 * lut_range / lut_entries`` = 1/128) holds the function at the bin's centre, rounded;
* element-wise products: ``round_shift(a * b, act_frac_bits)``; ``c_t`` saturates to int16;
  ``y_t = sat16(acc)``.

:func:`lstm_forward_float` is the float model of the same pruned weights (accuracy studies).
Inputs are int16 ``(input_size, utterances * steps)``: utterance ``u``'s step ``t`` is column
``u * steps + t``; every utterance starts from ``y = c = 0``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from eie_sim import accel
from eie_sim.compress.pruning import PRUNE_METHODS, prune
from eie_sim.errors import WorkloadError
from eie_sim.formats.fixed_point import INT16_MAX, INT16_MIN, quantize, round_shift

#: Weight width of ESE's sparse-matrix entries (12-bit weight + 4-bit relative index = 2 bytes).
WEIGHT_BITS = 12
WEIGHT_MAX = (1 << (WEIGHT_BITS - 1)) - 1
#: Inputs of one SpMV for which the 40-bit accumulator is exact (2**26 per product).
MAX_INPUTS = 16384
#: The gate phases in the order the scheduler runs them, and the projection.
GATES = ("i", "f", "c", "o")
PROJECTION = "y"


# --------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class LSTMSpec:
    """Shape, sparsity, pruning and formats of an LSTM workload (each field an assumption with a
    knob; defaults are ESE's LSTMP as recalled in docs/ESE_MODEL.md).

    Attributes
    ----------
    name : str
    input_size : int
        Inputs per step (153: TIMIT filterbank features of the ESE paper, assumed).
    hidden : int
        Cells H (1024).
    projection : int
        Projection size P (512); 0 = no projection (the recurrent input is m_t, H long).
    peepholes : bool
        Diagonal peephole weights on i, f (c_{t-1}) and o (c_t).
    density : float
        Fraction of every weight matrix kept by pruning (0.112: the paper's 282 GOP/s over its
        2.52 TOP/s dense equivalent); peepholes and biases are not pruned.
    steps : int
        Time steps T simulated per utterance.
    utterances : int
        Sequences run (ESE: one per channel; 32).
    prune : {"magnitude", "load-balance", "n:m"}
        Pruning method (:func:`eie_sim.compress.prune`); ``load-balance`` balances each matrix
        over ``prune_pes`` interleaved PEs.
    prune_pes : int
        PEs the load-balance pruning balances over (ESE: 32 PEs per channel).
    pattern : str
        N:M pattern of ``prune="n:m"`` (the density is then the pattern's).
    act_frac_bits : int
        Fraction bits of the 16-bit activations, 7..13.
    lut_entries : int
        Entries of the sigmoid and tanh tables (power of two).
    lut_range : float
        The tables cover [-lut_range, lut_range) (power of two).
    weight_scale : float
        Standard deviation of the synthetic weights times sqrt(fan-in x density).
    row_spread : float
        Sigma of a lognormal scale per output row of the synthetic weights (trained layers'
        rows differ in magnitude, which is what leaves magnitude pruning unbalanced); 0 = all
        rows alike.
    seed : int
        Seed of the synthetic weights and inputs.
    """

    name: str = "ese-lstm"
    input_size: int = 153
    hidden: int = 1024
    projection: int = 512
    peepholes: bool = True
    density: float = 0.112
    steps: int = 4
    utterances: int = 32
    prune: str = "load-balance"
    prune_pes: int = 32
    pattern: str = "2:4"
    act_frac_bits: int = 12
    lut_entries: int = 2048
    lut_range: float = 8.0
    weight_scale: float = 1.0
    row_spread: float = 0.0
    seed: int = 2017

    def __post_init__(self) -> None:
        def bad(msg: str) -> WorkloadError:
            return WorkloadError(f"LSTM {self.name!r}: {msg}")

        for name, lo in (("input_size", 1), ("hidden", 1), ("projection", 0), ("steps", 1),
                         ("utterances", 1), ("prune_pes", 1), ("seed", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise bad(f"{name} must be an integer >= {lo}, got {v!r}")
        if self.input_size + self.recurrent_size > MAX_INPUTS or self.hidden > MAX_INPUTS:
            raise bad(f"an SpMV may have at most {MAX_INPUTS} inputs (40-bit accumulators)")
        if not 0.0 < self.density <= 1.0:
            raise bad(f"density must be in (0, 1], got {self.density!r}")
        if self.prune not in PRUNE_METHODS:
            raise bad(f"prune must be one of {', '.join(PRUNE_METHODS)}, got {self.prune!r}")
        if not 7 <= self.act_frac_bits <= 13:
            raise bad(f"act_frac_bits must be in 7..13, got {self.act_frac_bits!r}")
        e, r = self.lut_entries, self.lut_range
        if e < 2 or e & (e - 1) or r <= 0 or float(r) != 2.0 ** round(np.log2(r)):
            raise bad("lut_entries and lut_range must be powers of two")
        if self.lut_step_bits > self.act_frac_bits or self.lut_step_bits < 0:
            raise bad(f"the LUT step 2**-{self.lut_step_bits} must be coarser than the "
                      f"activation step 2**-{self.act_frac_bits}")
        if not 0.0 <= self.row_spread <= 4.0:
            raise bad(f"row_spread must be in [0, 4], got {self.row_spread!r}")
        if not self.weight_scale > 0:
            raise bad(f"weight_scale must be > 0, got {self.weight_scale!r}")

    @property
    def recurrent_size(self) -> int:
        """Length R of the recurrent input y (P, or H without a projection)."""
        return self.projection or self.hidden

    @property
    def lut_step_bits(self) -> int:
        """Fraction bits of the LUT's input step: step = 2**-lut_step_bits."""
        return int(round(np.log2(self.lut_entries / (2 * self.lut_range))))

    @property
    def dense_weights(self) -> int:
        """Weights of the dense layer (SpMV matrices and peepholes; biases excluded)."""
        h, i, r = self.hidden, self.input_size, self.recurrent_size
        return 4 * h * (i + r) + self.projection * h + (3 * h if self.peepholes else 0)

    def replace(self, **changes) -> LSTMSpec:
        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------- float model
@dataclass(frozen=True, eq=False)
class FloatLSTM:
    """The pruned float weights (zeros where pruned); gate order i, f, c, o.

    ``wx`` (4, H, I), ``wr`` (4, H, R), ``peep`` (3, H) or None (i, f, o), ``bias`` (4, H),
    ``wy`` (P, H) or None.
    """

    spec: LSTMSpec
    wx: np.ndarray
    wr: np.ndarray
    peep: np.ndarray | None
    bias: np.ndarray
    wy: np.ndarray | None


def _prune(w: np.ndarray, spec: LSTMSpec) -> np.ndarray:
    try:
        return w * prune(w, spec.prune, spec.density, num_pes=spec.prune_pes,
                         pattern=spec.pattern)
    except ValueError as err:  # e.g. an N:M pattern that does not divide a matrix's inputs
        raise WorkloadError(f"LSTM {spec.name!r}, {spec.prune} pruning: {err}") from None


def prune_float(spec: LSTMSpec, wx: np.ndarray, wr: np.ndarray, peep: np.ndarray | None,
                bias: np.ndarray, wy: np.ndarray | None) -> FloatLSTM:
    """Prune each weight matrix (each gate's W_x and W_r, and W_ym) by ``spec.prune`` to
    ``spec.density``; peepholes and biases are kept."""
    return FloatLSTM(
        spec=spec,
        wx=np.stack([_prune(m, spec) for m in wx]),
        wr=np.stack([_prune(m, spec) for m in wr]),
        peep=None if peep is None else np.asarray(peep, dtype=np.float64),
        bias=np.asarray(bias, dtype=np.float64),
        wy=None if wy is None else _prune(wy, spec),
    )


def synthetic_float(spec: LSTMSpec) -> FloatLSTM:
    """Seeded synthetic weights: normal, scaled so that a pruned row's sum keeps unit variance
    on unit inputs (``weight_scale / sqrt(fan_in * density)``); peepholes N(0, 0.1), forget-gate
    bias 1.0 (the usual initialisation), other biases N(0, 0.1)."""
    rng = np.random.default_rng(spec.seed)
    h, i, r, p = spec.hidden, spec.input_size, spec.recurrent_size, spec.projection

    std = spec.weight_scale / np.sqrt((i + r) * spec.density)
    # W_x and W_r of a gate sum into one pre-activation: one scale for both.
    wx = rng.normal(0.0, std, size=(4, h, i))
    wr = rng.normal(0.0, std, size=(4, h, r))
    peep = rng.normal(0.0, 0.1, size=(3, h)) if spec.peepholes else None
    bias = rng.normal(0.0, 0.1, size=(4, h))
    bias[1] += 1.0
    wy = rng.normal(0.0, spec.weight_scale / np.sqrt(h * spec.density), size=(p, h)) if p else None
    if spec.row_spread:
        spread = np.random.default_rng(spec.seed + 3)
        wx = wx * spread.lognormal(0.0, spec.row_spread, size=(4, h, 1))
        wr = wr * spread.lognormal(0.0, spec.row_spread, size=(4, h, 1))
        if wy is not None:
            wy = wy * spread.lognormal(0.0, spec.row_spread, size=(p, 1))
    return prune_float(spec, wx, wr, peep, bias, wy)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def lstm_forward_float(model: FloatLSTM, x: np.ndarray) -> np.ndarray:
    """Float64 outputs y_t, shape (R, utterances * steps), of real inputs ``x``
    (input_size, utterances * steps) laid out as the workload's."""
    spec = model.spec
    t_steps = spec.steps
    x = np.asarray(x, dtype=np.float64)
    u = x.shape[1] // t_steps
    xs = x.reshape(spec.input_size, u, t_steps)
    y = np.zeros((spec.recurrent_size, u))
    c = np.zeros((spec.hidden, u))
    out = np.zeros((spec.recurrent_size, u, t_steps))
    for t in range(t_steps):
        pre = [model.wx[g] @ xs[:, :, t] + model.wr[g] @ y + model.bias[g][:, None]
               for g in range(4)]
        if model.peep is not None:
            pre[0] = pre[0] + model.peep[0][:, None] * c
            pre[1] = pre[1] + model.peep[1][:, None] * c
        i_g, f_g, g_g = _sigmoid(pre[0]), _sigmoid(pre[1]), np.tanh(pre[2])
        c = f_g * c + i_g * g_g
        if model.peep is not None:
            pre[3] = pre[3] + model.peep[2][:, None] * c
        m = _sigmoid(pre[3]) * np.tanh(c)
        y = model.wy @ m if model.wy is not None else m
        out[:, :, t] = y
    return out.reshape(spec.recurrent_size, u * t_steps)


# --------------------------------------------------------------------------- quantized layer
@dataclass(frozen=True, eq=False)
class SparseMatrix:
    """One SpMV phase's matrix in CSC: int16 12-bit values with ``frac_bits`` fraction bits."""

    name: str
    n_rows: int
    n_cols: int
    col_ptr: np.ndarray
    row_idx: np.ndarray
    values: np.ndarray
    frac_bits: int

    @property
    def nnz(self) -> int:
        return int(self.row_idx.size)

    @classmethod
    def from_dense(cls, name: str, w: np.ndarray) -> SparseMatrix:
        """Quantize a pruned float matrix (zeros = pruned) to 12-bit linear fixed point."""
        frac = weight_frac_bits(float(np.max(np.abs(w), initial=0.0)))
        q = quantize(w, frac)
        q = np.clip(q, -WEIGHT_MAX, WEIGHT_MAX).astype(np.int16)
        cols, rows = np.nonzero(q.T)
        col_ptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=w.shape[1]))])
        return cls(name=name, n_rows=w.shape[0], n_cols=w.shape[1],
                   col_ptr=col_ptr.astype(np.int64), row_idx=rows.astype(np.int32),
                   values=q.T[cols, rows].astype(np.int16), frac_bits=frac)

    @cached_property
    def entry_cols(self) -> np.ndarray:
        """Column of each entry (int64, CSC order)."""
        return np.repeat(np.arange(self.n_cols, dtype=np.int64), np.diff(self.col_ptr))

    def matvec(self, a: np.ndarray) -> np.ndarray:
        """Exact fixed-point SpMV of int16 inputs ``a`` (n_cols, batch): int64 (n_rows, batch)."""
        cols = self.entry_cols
        if accel.kernels() is not None:
            return accel.rounded_spmv(self.row_idx, cols, self.values, a, self.frac_bits,
                                      self.n_rows)
        prod = round_shift(self.values.astype(np.int64)[:, None] * a[cols].astype(np.int64),
                           self.frac_bits)
        out = np.zeros((self.n_rows, a.shape[1]), dtype=np.int64)
        np.add.at(out, self.row_idx, prod)
        return out


def weight_frac_bits(max_abs: float) -> int:
    """Most fraction bits (<= 15) whose 12-bit range holds ``max_abs``."""
    for f in range(15, -1, -1):
        if max_abs * (1 << f) < WEIGHT_MAX + 0.5:
            return f
    raise WorkloadError(f"weight {max_abs} does not fit 12 bits")


@dataclass(frozen=True, eq=False)
class LSTMLayer:
    """A pruned, 12-bit-quantized LSTM layer over ``steps`` time steps (see the module
    docstring). ``n_in`` / ``n_out`` are the per-step input and output sizes (I, R).

    Attributes
    ----------
    phases : tuple of SparseMatrix
        The gate SpMVs (``i, f, c, o``: H x (I + R) each) and, with a projection, ``y`` (P x H).
    peep : numpy.ndarray of int16, shape (3, H), or None
        Peepholes p_i, p_f, p_o (12-bit, ``peep_frac_bits``).
    bias : numpy.ndarray of int16, shape (4, H)
        Gate biases in the activation format.
    """

    name: str
    spec: LSTMSpec
    phases: tuple[SparseMatrix, ...]
    peep: np.ndarray | None
    peep_frac_bits: int
    bias: np.ndarray
    act_frac_bits: int
    info: dict = field(default_factory=dict)

    # the facade's layer interface
    @property
    def kind(self) -> str:
        """Layer kind ("lstm"; :data:`eie_sim.registry.LAYER_KINDS`)."""
        return "lstm"

    @property
    def n_in(self) -> int:
        return self.spec.input_size

    @property
    def n_out(self) -> int:
        return self.spec.recurrent_size

    @property
    def hidden(self) -> int:
        return self.spec.hidden

    @property
    def steps(self) -> int:
        return self.spec.steps

    @property
    def has_projection(self) -> bool:
        return self.spec.projection > 0

    @property
    def nnz(self) -> int:
        """Stored non-zero weights of the SpMV matrices (peepholes excluded)."""
        return sum(m.nnz for m in self.phases)

    @property
    def weight_density(self) -> float:
        """Non-zero SpMV weights / dense SpMV weights."""
        return self.nnz / sum(m.n_rows * m.n_cols for m in self.phases)

    @property
    def dense_macs_per_step(self) -> int:
        """Multiply-accumulates of one step of one utterance, dense (peepholes included)."""
        return self.spec.dense_weights

    @property
    def sparse_macs_per_step(self) -> int:
        """Multiply-accumulates of one step of one utterance on the pruned weights: the
        non-zeros of the SpMVs plus the peephole products."""
        return self.nnz + (3 * self.hidden if self.peep is not None else 0)

    def utterances(self, x: np.ndarray) -> int:
        """Utterances in an input of the workload's layout."""
        return np.shape(x)[1] // self.steps

    @cached_property
    def luts(self) -> tuple[np.ndarray, np.ndarray]:
        """(sigmoid, tanh) tables: int16 in the activation format, ``lut_entries`` long."""
        s = self.spec
        centres = (np.arange(s.lut_entries) - s.lut_entries // 2 + 0.5) / (1 << s.lut_step_bits)
        return quantize(_sigmoid(centres), s.act_frac_bits), quantize(np.tanh(centres),
                                                                        s.act_frac_bits)


def quantize_lstm(model: FloatLSTM, name: str | None = None) -> LSTMLayer:
    """The ESE storage of a pruned float LSTM: 12-bit weights per matrix, int16 biases."""
    spec = model.spec
    phases = [SparseMatrix.from_dense(g, np.concatenate([model.wx[k], model.wr[k]], axis=1))
              for k, g in enumerate(GATES)]
    if model.wy is not None:
        phases.append(SparseMatrix.from_dense(PROJECTION, model.wy))
    peep, pfb = None, 0
    if model.peep is not None:
        pfb = weight_frac_bits(float(np.max(np.abs(model.peep), initial=0.0)))
        peep = np.clip(quantize(model.peep, pfb), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int16)
    return LSTMLayer(name=name or spec.name, spec=spec, phases=tuple(phases), peep=peep,
                     peep_frac_bits=pfb, bias=quantize(model.bias, spec.act_frac_bits),
                     act_frac_bits=spec.act_frac_bits)


# --------------------------------------------------------------------------- fixed point
def lut(table: np.ndarray, s: np.ndarray, spec: LSTMSpec) -> np.ndarray:
    """Table lookup of pre-activations ``s`` (int64, activation format): the input is clipped
    to the table's range, the bin is ``floor(s / step)``."""
    idx = (np.asarray(s, dtype=np.int64) >> (spec.act_frac_bits - spec.lut_step_bits))
    idx = np.clip(idx + spec.lut_entries // 2, 0, spec.lut_entries - 1)
    return table[idx]


def _mul(a: np.ndarray, b: np.ndarray, frac: int) -> np.ndarray:
    return round_shift(np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64), frac)


@dataclass
class CellState:
    """What the element-wise unit holds for a batch of utterances between its tasks (int16
    arrays of shape (H, batch); ``y`` is (R, batch))."""

    c: np.ndarray
    y: np.ndarray
    i: np.ndarray | None = None
    f: np.ndarray | None = None
    m: np.ndarray | None = None

    @classmethod
    def zeros(cls, layer: LSTMLayer, batch: int) -> CellState:
        return cls(c=np.zeros((layer.hidden, batch), np.int16),
                   y=np.zeros((layer.n_out, batch), np.int16))


def element_wise(layer: LSTMLayer, phase: str, acc: np.ndarray, st: CellState) -> None:
    """The element-wise unit's task after SpMV ``phase`` (adder tree, LUTs, products), on the
    phase's accumulators ``acc`` (int64, (rows, batch)); updates ``st`` in place.

    * ``i`` / ``f``: gate = sigmoid(acc + p * c_{t-1} + b);
    * ``c``: g = tanh(acc + b); c_t = sat16(f * c_{t-1} + i * g);
    * ``o``: o = sigmoid(acc + p_o * c_t + b); m_t = o * tanh(c_t) (without a projection
      m_t is y_t);
    * ``y``: y_t = sat16(acc).
    """
    sig, tanh = layer.luts
    spec, fa = layer.spec, layer.act_frac_bits
    if phase == PROJECTION:
        st.y = np.clip(acc, INT16_MIN, INT16_MAX).astype(np.int16)
        return
    g = GATES.index(phase)
    s = acc + layer.bias[g].astype(np.int64)[:, None]
    if layer.peep is not None and phase != "c":
        pk = {"i": 0, "f": 1, "o": 2}[phase]
        s = s + _mul(layer.peep[pk][:, None], st.c, layer.peep_frac_bits)
    if phase == "i":
        st.i = lut(sig, s, spec)
    elif phase == "f":
        st.f = lut(sig, s, spec)
    elif phase == "c":
        gg = lut(tanh, s, spec)
        c = _mul(st.f, st.c, fa) + _mul(st.i, gg, fa)
        st.c = np.clip(c, INT16_MIN, INT16_MAX).astype(np.int16)
    else:
        o = lut(sig, s, spec)
        st.m = _mul(o, lut(tanh, st.c, spec), fa).astype(np.int16)
        if not layer.has_projection:
            st.y = st.m


def phase_input(layer: LSTMLayer, phase: str, x_t: np.ndarray, st: CellState) -> np.ndarray:
    """The vector SpMV ``phase`` consumes: ``[x_t; y_{t-1}]`` for a gate, ``m_t`` for ``y``."""
    if phase == PROJECTION:
        return st.m
    return np.concatenate([x_t, st.y], axis=0)


def lstm_forward_fixed(layer: LSTMLayer, x: np.ndarray) -> np.ndarray:
    """The fixed-point functional reference: int16 y_t, shape (R, utterances * steps).

    On the layer's CSC matrices (not the per-PE encoding an engine reads), all utterances at
    once, phase by phase in the scheduler's order; the SpMVs run in the compiled loops when
    they were built (:mod:`eie_sim.accel`), else in numpy.
    """
    x = np.asarray(x)
    t_steps, u = layer.steps, layer.utterances(x)
    xs = x.reshape(layer.n_in, u, t_steps)
    st = CellState.zeros(layer, u)
    out = np.zeros((layer.n_out, u, t_steps), dtype=np.int16)
    for t in range(t_steps):
        x_t = xs[:, :, t]
        for m in layer.phases:
            element_wise(layer, m.name, m.matvec(phase_input(layer, m.name, x_t, st)), st)
        out[:, :, t] = st.y
    return out.reshape(layer.n_out, u * t_steps)


# --------------------------------------------------------------------------- workloads
#: ESE's LSTMP (assumptions in docs/ESE_MODEL.md) and NeuralTalk's LSTM (EIE Table III:
#: 1201 x 2400 = [x (600); h (600); bias] x 4 gates of 600, 10 % dense).
SPECS: dict[str, LSTMSpec] = {
    "ese-lstm": LSTMSpec(),
    "nt-lstm": LSTMSpec(name="nt-lstm", input_size=600, hidden=600, projection=0,
                        peepholes=False, density=0.10),
}


def synthetic_inputs(spec: LSTMSpec) -> tuple[np.ndarray, np.ndarray]:
    """Seeded N(0, 1) inputs clipped to [-4, 4]: (float, int16) of shape (I, U * T)."""
    rng = np.random.default_rng(spec.seed + 2)
    xf = np.clip(rng.normal(size=(spec.input_size, spec.utterances * spec.steps)), -4, 4)
    return xf, quantize(xf, spec.act_frac_bits)


def lstm_workload(spec: LSTMSpec | str = "ese-lstm", **changes):
    """The :class:`~eie_sim.workloads.Workload` of one LSTM layer (synthetic weights and inputs);
    ``changes`` override spec fields (``prune="magnitude"``, ``steps=8``, ...)."""
    from eie_sim.workloads import Workload

    if isinstance(spec, str):
        if spec not in SPECS:
            raise WorkloadError(f"unknown LSTM {spec!r}; allowed: {', '.join(SPECS)}")
        spec = SPECS[spec]
    spec = spec.replace(**changes) if changes else spec
    layer = quantize_lstm(synthetic_float(spec))
    _, x = synthetic_inputs(spec)
    return Workload(name=spec.name, layers=(layer,), inputs=x, description=describe_spec(spec),
                    info={"lstm": dataclasses.asdict(spec)})


#: The named LSTM workloads whose pruning can be chosen (:func:`named_lstm`; CLI ``--prune``).
LSTM_WORKLOADS = (*SPECS, "digits-lstm")


def named_lstm(name: str, seed: int | None = None, prune: str = "load-balance",
               prune_pes: int | None = None):
    """A named LSTM workload pruned by ``prune`` (``magnitude``, ``load-balance`` or ``n:m``).

    ``ese-lstm`` and ``nt-lstm`` are rebuilt with that method, load-balance over ``prune_pes``
    PEs (default: the spec's 32); ``digits-lstm`` is trained with ``magnitude`` or
    ``load-balance`` (over its own 8 PEs, whatever ``prune_pes`` says)."""
    from eie_sim.workloads.paper import DEFAULT_SEED

    if name not in LSTM_WORKLOADS:
        raise WorkloadError(f"unknown LSTM workload {name!r}; allowed: {', '.join(LSTM_WORKLOADS)}")
    if prune not in PRUNE_METHODS:
        raise WorkloadError(f"prune must be one of {', '.join(PRUNE_METHODS)}, got {prune!r}")
    seed = DEFAULT_SEED if seed is None else seed
    if name == "digits-lstm":
        from eie_sim.workloads.digits_lstm import digits_lstm_workload

        return digits_lstm_workload(seed, prune)
    changes = {"seed": seed, "prune": prune}
    if prune_pes is not None:
        changes["prune_pes"] = prune_pes
    return lstm_workload(SPECS[name].replace(**changes))


def describe_spec(spec: LSTMSpec) -> str:
    proj = f", projection {spec.projection}" if spec.projection else ""
    peep = ", peepholes" if spec.peepholes else ""
    return (f"LSTM {spec.input_size} in, {spec.hidden} cells{proj}{peep}; {spec.density:.1%} "
            f"dense ({spec.prune} pruning), {spec.steps} steps x {spec.utterances} utterances")


def fc_layers(model: FloatLSTM) -> tuple:
    """The LSTM's SpMVs as EIE layers (4-bit weight sharing): the four gates as one
    4H x (I + R) matrix with the gate biases (the EIE paper's NT-LSTM form) and the projection.
    For running the same LSTM's matrix work on EIE or the dense baseline."""
    from eie_sim.layer import QuantizedLayer

    w = np.concatenate([np.concatenate([model.wx[k], model.wr[k]], axis=1) for k in range(4)])
    gates = QuantizedLayer.from_dense(f"{model.spec.name}-gates", w, model.bias.ravel(),
                                      act_frac_bits=model.spec.act_frac_bits)
    if model.wy is None:
        return (gates,)
    return gates, QuantizedLayer.from_dense(f"{model.spec.name}-proj", model.wy,
                                            act_frac_bits=model.spec.act_frac_bits)
