"""Synthetic pruned, quantized FC layers built directly in compressed form.

Memory grows with the non-zeros, never with ``inputs x outputs``:

* **positions**: every weight survives independently with probability ``weight_density``;
  the surviving positions are drawn as geometric gaps along the column-major order, so the
  CSC structure comes out sorted without ever touching the zeros (:func:`sparse_positions`);
* **panels**: a layer that expects more than :data:`PANEL_NONZEROS` (2**22) non-zeros is
  drawn in panels of whole columns with about that many each, every panel (positions, then
  values) from its own random stream, on up to one thread per core; the result does not
  depend on the thread count (:func:`uniform_weights`). A smaller layer (every Table III layer)
  is one panel on the layer's stream;
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

That is ``statistics="uniform"`` (the default). Real magnitude-pruned layers are not uniform:
some rows and columns keep more weights than others, and some inputs fire more often than
others. ``statistics="realistic"`` draws that structure with the four parameters of
:class:`eie_sim.workloads.statistics.LayerStatistics` (``LayerSpec.structure``; default
:data:`~eie_sim.workloads.statistics.REALISTIC`, measured on networks trained and pruned here;
definitions in that module). With ``d = weight_density`` and ``s_r, s_c, rho, P`` the row
spread, column spread, activation/column correlation and activation persistence:

1. **row and column multipliers** ``a_i`` (outputs) and ``b_j`` (inputs): i.i.d. lognormal
   with coefficient of variation ``s_r`` (``s_c``), each set divided by its mean (so mean 1
   exactly); spread 0 gives all ones;
2. **positions**: weight ``(i, j)`` is non-zero independently with probability
   ``min(1, lam a_i b_j)``; ``lam`` is ``d`` unless some probabilities reach 1, then it is
   solved (bisection) so the expected non-zeros stay ``d * inputs * outputs``. The draw is
   exact and costs O(non-zeros): rows are grouped by multiplier (within a factor 2); in each
   (column, group) candidates are drawn as geometric gaps at the group's largest probability
   and kept with probability (own / largest); done in chunks of columns, so memory is the
   non-zeros plus O(inputs + outputs) plus a chunk of about a million candidates;
3. **which input gets which column**: every input ``j`` has a latent firing propensity
   ``v_j ~ N(0, 1)`` (its own random stream); the drawn columns are assigned to the inputs so
   that column counts rise with ``w_j = g v_j + sqrt(1 - g^2) e_j`` (``e_j ~ N(0, 1)``, count
   ties broken at random) where ``g = 2 sin(pi rho / 6)`` is the normal correlation whose rank
   correlation is ``rho``: a Gaussian copula, so the rank correlation of the firing
   probability (monotone in ``v``) with the column count is ``rho``;
4. **values and scale**: as in uniform mode, in the order of the CSC entries;
5. **input activations**: exactly ``round(activation_density * inputs)`` non-zeros at the
   inputs with the largest scores ``sqrt(h) v_j + sqrt(1 - h) u_j`` (``u_j ~ N(0, 1)`` fresh
   per sample), values as in uniform mode. ``h`` is the latent correlation (a threshold model)
   that gives persistence ``P`` at this density, from the bivariate-normal orthant formula;
   :func:`realistic_inputs` draws more samples of the same layer's inputs. When the input
   ``x`` is given (a chained network), the propensities are drawn from it instead: the firing
   inputs get the largest of ``inputs`` standard normal scores ``s_j`` (at random among
   themselves), the others the rest, and ``v_j = sqrt(h) s_j + sqrt(1 - h) e'_j``;
6. **bias**: as in uniform mode.

Realistic mode uses its own random streams (``[seed, inputs, outputs, k]``, ``k`` = 1
positions and values, 2 propensities and assignment, 3 input samples).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from eie_sim import accel
from eie_sim.errors import WorkloadError
from eie_sim.formats.fixed_point import ACT_FRAC_BITS, INT16_MAX, INT16_MIN, quantize
from eie_sim.layer import QuantizedLayer
from eie_sim.limits import check_layer_spec
from eie_sim.reference import reference_forward
from eie_sim.workloads.statistics import REALISTIC, LayerStatistics

STATISTICS_MODES = ("uniform", "realistic")

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
    statistics : {"uniform", "realistic"}
        How positions and inputs are drawn (module docstring); "uniform" is i.i.d.
    structure : LayerStatistics or None
        Parameters of realistic mode; None = the measured defaults
        (:data:`eie_sim.workloads.statistics.REALISTIC`). Only with ``statistics="realistic"``.
    """

    name: str
    inputs: int
    outputs: int
    weight_density: float
    activation_density: float
    seed: int = 0
    output_density: float | None = 0.5
    statistics: str = "uniform"
    structure: LayerStatistics | None = None

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
        if self.statistics not in STATISTICS_MODES:
            raise WorkloadError(
                f"statistics must be one of {', '.join(STATISTICS_MODES)}, got {self.statistics!r}"
            )
        if self.structure is not None:
            if not isinstance(self.structure, LayerStatistics):
                raise WorkloadError(
                    f"structure must be a LayerStatistics or None, got {self.structure!r}"
                )
            if self.statistics != "realistic":
                raise WorkloadError("structure is used only with statistics='realistic'")
        check_layer_spec(self.inputs, self.outputs, self.weight_density, self.name)  # limits

    @property
    def parameters(self) -> LayerStatistics | None:
        """The realistic-mode parameters in effect (None in uniform mode)."""
        if self.statistics != "realistic":
            return None
        return REALISTIC if self.structure is None else self.structure


def sparse_positions(
    rng: np.random.Generator, n_out: int, n_in: int, density: float,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli(density) positions of an ``n_out x n_in`` matrix as CSC ``(col_ptr, rows)``.

    The positions (column-major) are the running sums of ``Geometric(density)`` gaps, drawn in
    batches (:func:`_gap_batches`) until they pass the end of the matrix. Below density 1/3,
    where numpy draws a geometric gap by inversion, ``ceil(E / -log1p(-density))`` of one
    standard exponential ``E``, the gaps are made that way from
    :meth:`~numpy.random.Generator.standard_exponential`, a block of :data:`POSITION_BLOCK` at a
    time, and turned into rows and column counts on the way (the stream of ``rng.geometric``,
    cache-sized temporaries). There, ``out`` (int32) receives the rows if it has room for the
    first batch (the rows returned are then its leading part).
    """
    total = n_out * n_in
    if density <= 0.0:
        return np.zeros(n_in + 1, dtype=np.int64), np.zeros(0, dtype=np.int32)
    if density < _GEOMETRIC_INVERSION_BELOW:
        return _positions_by_inversion(rng, n_out, n_in, density, out)
    if density >= 1.0:
        flat = np.arange(total, dtype=np.int64)
    else:
        parts, last = [], -1
        for batch in _gap_batches(density * total):
            pos = rng.geometric(density, size=batch)  # gaps, turned into positions in place
            np.cumsum(pos, out=pos)
            pos += last
            parts.append(pos)
            last = int(pos[-1])
            if last >= total - 1:
                break
        flat = parts[0] if len(parts) == 1 else np.concatenate(parts)
        flat = flat[: np.searchsorted(flat, total)]
    # Column j starts at the first position >= j * n_out (no per-entry division); rows are the
    # offsets from the column's start, a block of columns at a time (bounded temporaries).
    col_ptr = np.searchsorted(flat, np.arange(n_in + 1, dtype=np.int64) * n_out)
    rows = np.empty(flat.size, dtype=np.int32)
    for c0 in range(0, n_in, _COLUMN_BLOCK):
        c1 = min(c0 + _COLUMN_BLOCK, n_in)
        s, e = col_ptr[c0], col_ptr[c1]
        starts = np.arange(c0, c1, dtype=np.int64) * n_out
        rows[s:e] = flat[s:e] - np.repeat(starts, np.diff(col_ptr[c0 : c1 + 1]))
    return col_ptr.astype(np.int64), rows


#: Columns whose rows are computed at once in :func:`sparse_positions` (density >= 1/3).
_COLUMN_BLOCK = 4096
#: numpy's ``Generator.geometric`` draws by inversion of one standard exponential below this
#: probability (by a sequential search above it).
_GEOMETRIC_INVERSION_BELOW = 1.0 / 3.0
#: Gaps drawn and turned into rows at once by :func:`sparse_positions` below density 1/3.
POSITION_BLOCK = 1 << 16


def _gap_batches(expected: float) -> Iterator[int]:
    """Sizes of the batches of gaps :func:`sparse_positions` draws for ``expected`` non-zeros:
    ``mean + 8 sd + 64`` (nearly always enough), then an eighth of the previous, at least 64."""
    batch = int(expected + 8.0 * math.sqrt(expected) + 64)
    while True:
        yield batch
        batch = max(64, batch // 8)


def _positions_by_inversion(
    rng: np.random.Generator, n_out: int, n_in: int, density: float, out: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sparse_positions` for ``0 < density < 1/3``, one block of gaps at a time.

    A gap is ``ceil(E / -log1p(-density))``, computed as numpy computes it; gaps and positions
    are whole numbers held in float64, exact below 2**53 (a matrix has at most 2**40 entries,
    and a position past its end is only compared with the end). Every batch is drawn in full
    (the stream), its positions used up to the end of the matrix.
    """
    total = n_out * n_in
    rate = -math.log1p(-density)
    counts = np.zeros(n_in, dtype=np.int64)
    rows = np.zeros(0, dtype=np.int32) if out is None else out
    filled = 0
    last = -1.0  # the last position drawn
    for batch in _gap_batches(density * total):
        if filled + batch > rows.size:  # the first batch's size, rarely grown
            rows = np.concatenate([rows[:filled], np.empty(batch, dtype=np.int32)])
        buf = np.empty(min(batch, POSITION_BLOCK))
        for start in range(0, batch, buf.size):
            pos = buf[: min(buf.size, batch - start)]
            rng.standard_exponential(out=pos)
            np.divide(pos, rate, out=pos)
            np.ceil(pos, out=pos)
            np.cumsum(pos, out=pos)
            pos += last
            last = float(pos[-1])
            if pos[0] >= total:
                continue
            if last >= total:
                pos = pos[: np.searchsorted(pos, total)]
            # Columns c_lo..c_hi: their starts, where each one's positions begin in ``pos``.
            c_lo, c_hi = int(pos[0]) // n_out, int(pos[-1]) // n_out
            starts = np.arange(c_lo, c_hi + 2, dtype=np.float64) * n_out
            per_col = np.diff(np.searchsorted(pos, starts))
            counts[c_lo : c_hi + 1] += per_col
            pos -= np.repeat(starts[:-1], per_col)
            rows[filled : filled + pos.size] = pos
            filled += pos.size
        if last >= total - 1:
            break
    col_ptr = np.zeros(n_in + 1, dtype=np.int64)
    np.cumsum(counts, out=col_ptr[1:])
    return col_ptr, rows[:filled]


def pruned_laplace_values(
    rng: np.random.Generator, n: int, density: float, out: np.ndarray | None = None
) -> np.ndarray:
    """Survivors of magnitude-pruning Laplace(0, 1) weights to ``density``: ``±(ln(1/d) + E)``.

    ``E`` are ``n`` standard exponentials, then ``n`` uniforms ``u`` give the signs (negative
    where ``u < 0.5``); the signs are applied a block at a time (no mask the size of ``n``).
    ``out``: a float64 array of ``n`` entries to fill (and return) instead of a new one.
    """
    threshold = math.log(1.0 / density) if 0.0 < density < 1.0 else 0.0
    values = np.empty(n) if out is None else out
    rng.standard_exponential(out=values)
    u = np.empty(max(1, min(n, POSITION_BLOCK)))
    for s in range(0, n, u.size):
        v = values[s : s + u.size]
        w = u[: v.size]
        rng.random(out=w)
        v += threshold
        w -= 0.5  # < 0 exactly where u < 0.5
        np.copysign(v, w, out=v)
    return values


#: Expected non-zeros per panel of a uniform layer: the columns are generated in panels of
#: about this many non-zeros, each from its own random stream, so panels can be drawn on
#: several cores; a layer that expects at most this many is one panel.
PANEL_NONZEROS = 1 << 22


def panel_width(n_out: int, n_in: int, density: float) -> int:
    """Columns per panel of a uniform layer (:data:`PANEL_NONZEROS`; all of them for one)."""
    if not 0.0 < density < 1.0:
        return n_in
    return max(1, min(n_in, int(PANEL_NONZEROS / (n_out * density))))


def uniform_weights(
    spec: LayerSpec, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSC ``(col_ptr, rows, values)`` of a uniform layer, values before scaling.

    The columns are split into panels of :func:`panel_width` columns. Panel 0 draws from
    ``rng`` (the layer's stream, which then draws the input), panel ``k > 0`` from child ``k``
    of the layer's seed sequence (``SeedSequence([seed, inputs, outputs], spawn_key=(k,))``).
    Each panel draws its positions (:func:`sparse_positions` on its columns), then its values
    (:func:`pruned_laplace_values`), from its own stream, so the layer does not depend on how
    many threads drew it; they run on up to one thread per available core. Rows are drawn into
    one buffer, each panel in a slot the size of its first batch of gaps, then moved together.
    """
    n_out, n_in, density = spec.outputs, spec.inputs, spec.weight_density
    width = panel_width(n_out, n_in, density)
    if width >= n_in:
        col_ptr, rows = sparse_positions(rng, n_out, n_in, density)
        return col_ptr, rows, pruned_laplace_values(rng, rows.size, density)
    starts = list(range(0, n_in, width))
    widths = [min(width, n_in - c) for c in starts]
    rngs = [rng] + [
        np.random.default_rng(np.random.SeedSequence([spec.seed, n_in, n_out], spawn_key=(k,)))
        for k in range(1, len(starts))
    ]
    slots = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum([next(_gap_batches(density * n_out * w)) for w in widths], out=slots[1:])
    buf = np.empty(int(slots[-1]), dtype=np.int32)
    with _panel_pool(len(starts)) as run:
        panels = run(
            lambda k: sparse_positions(
                rngs[k], n_out, widths[k], density, out=buf[slots[k] : slots[k + 1]]
            ),
            range(len(starts)),
        )
        offsets = np.zeros(len(panels) + 1, dtype=np.int64)
        np.cumsum([rows.size for _, rows in panels], out=offsets[1:])
        values = np.empty(int(offsets[-1]))
        run(
            lambda k: pruned_laplace_values(
                rngs[k], panels[k][1].size, density, out=values[offsets[k] : offsets[k + 1]]
            ),
            range(len(starts)),
        )
    col_ptr = np.concatenate(
        [np.zeros(1, dtype=np.int64)]
        + [ptr[1:] + o for (ptr, _), o in zip(panels, offsets[:-1], strict=True)]
    )
    if all(np.may_share_memory(rows, buf) for _, rows in panels):
        # Each panel's rows lead its slot, so moving them down in order never overwrites rows
        # not yet moved.
        for (_, rows), o in zip(panels, offsets[:-1], strict=True):
            buf[o : o + rows.size] = rows
        rows = buf[: offsets[-1]]
    else:  # a panel outgrew its slot (a second batch of gaps; rare)
        rows = np.concatenate([rows for _, rows in panels])
    return col_ptr, rows, values


@contextmanager
def _panel_pool(tasks: int) -> Iterator[Callable]:
    """A ``run(function, items) -> list`` over up to one thread per available core (inline for
    one); numpy's random fills and array loops release the GIL."""
    threads = min(tasks, accel.available_cores())
    if threads <= 1:
        yield lambda fn, items: [fn(i) for i in items]
        return
    from concurrent.futures import ThreadPoolExecutor  # only big layers use threads

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="eie-sim-build") as pool:
        yield lambda fn, items: list(pool.map(fn, items))


def mean_square(values: np.ndarray) -> float:
    """``np.mean(values**2)`` of a 1-D float64 array, bit for bit, without the temporary of
    squares: the sum is split the way numpy's pairwise summation splits it (halves rounded down
    to a multiple of 8) down to blocks of :data:`POSITION_BLOCK`, which numpy sums itself."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError("mean_square takes a 1-D array")
    if values.size == 0:
        return float("nan")
    square = np.empty(min(values.size, POSITION_BLOCK))

    def pairwise(lo: int, hi: int) -> float:
        n = hi - lo
        if n <= square.size:
            sq = square[:n]
            np.multiply(values[lo:hi], values[lo:hi], out=sq)
            return np.add.reduce(sq)
        half = n // 2
        half -= half % 8
        return pairwise(lo, lo + half) + pairwise(lo + half, hi)

    return float(pairwise(0, values.size) / values.size)


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


# ----------------------------------------------------------------------------- realistic mode

#: Candidates drawn per chunk of columns in realistic mode (bounds the transient memory).
CANDIDATES_PER_CHUNK = 1 << 20


def lognormal_multipliers(rng: np.random.Generator, n: int, spread: float) -> np.ndarray:
    """``n`` i.i.d. lognormal multipliers with coefficient of variation ``spread``, divided by
    their mean (mean exactly 1); all ones for spread 0."""
    if spread <= 0.0:
        return np.ones(n)
    sigma = math.sqrt(math.log1p(spread * spread))
    m = np.exp(sigma * rng.standard_normal(n))
    return m / m.mean()


def density_scale(a: np.ndarray, b: np.ndarray, density: float) -> float:
    """``lam`` with ``sum_ij min(1, lam a_i b_j) = density * a.size * b.size`` (0 < density < 1).

    ``lam = density`` when no probability reaches 1 (multipliers of mean 1); otherwise solved by
    bisection on ``log lam`` in O((a.size + b.size) log a.size) per step.
    """
    a_up = np.sort(a)
    prefix = np.concatenate([[0.0], np.cumsum(a_up)])
    target = density * a.size * b.size

    def total(lam: float) -> float:
        below = np.searchsorted(a_up, 1.0 / (lam * b), side="left")  # rows not saturated
        return float(np.sum((a.size - below) + lam * b * prefix[below]))

    if density * float(a_up[-1]) * float(b.max()) <= 1.0:
        return density
    lo, hi = density, 1.0 / (float(a_up[0]) * float(b.min()))
    for _ in range(100):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if total(mid) < target else (lo, mid)
        if hi / lo < 1.0 + 1e-12:
            break
    return math.sqrt(lo * hi)


def _bernoulli_runs(
    rng: np.random.Generator, lengths: np.ndarray, q: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli(``q[s]``) successes over ``lengths[s]`` trials for every segment ``s``, drawn as
    geometric gaps. Returns ``(segment, offset)`` of the successes, sorted by segment then
    offset. Every ``q`` must be in (0, 1]."""
    segs, offs = [], []
    seg_ids = np.arange(lengths.size)
    start = np.full(lengths.size, -1, dtype=np.int64)  # last position drawn so far
    while seg_ids.size:
        m = (lengths[seg_ids] - 1 - start[seg_ids]) * q[seg_ids]
        draws = np.ceil(m + 3.0 * np.sqrt(m) + 2.0).astype(np.int64)
        seg = np.repeat(seg_ids, draws)
        gaps = rng.geometric(np.repeat(q[seg_ids], draws)).astype(np.int64)
        ends = np.cumsum(draws)
        csum = np.cumsum(gaps)
        before = np.concatenate([[0], csum[ends[:-1] - 1]])
        pos = csum - np.repeat(before, draws) + np.repeat(start[seg_ids], draws)
        ok = pos < lengths[seg]
        segs.append(seg[ok])
        offs.append(pos[ok])
        last = pos[ends - 1]
        unfinished = last < lengths[seg_ids]  # the segment's end not reached yet
        start[seg_ids] = last
        seg_ids = seg_ids[unfinished]
    seg = np.concatenate(segs) if segs else np.zeros(0, dtype=np.int64)
    off = np.concatenate(offs) if offs else np.zeros(0, dtype=np.int64)
    # A segment's offsets come in rising order (a round continues where the last one ended), so
    # a stable sort by segment alone orders by (segment, offset): a merge of a few sorted runs.
    order = np.argsort(seg, kind="stable")
    return seg[order], off[order]


def realistic_positions(
    rng: np.random.Generator, n_out: int, n_in: int, density: float, stats: LayerStatistics
) -> tuple[np.ndarray, np.ndarray]:
    """CSC ``(col_ptr, rows)`` with ``P(w_ij != 0) = min(1, lam a_i b_j)`` (module docstring).

    Memory: the non-zeros (int32 rows) plus O(n_in + n_out) plus one chunk of about
    :data:`CANDIDATES_PER_CHUNK` candidates.
    """
    a = lognormal_multipliers(rng, n_out, stats.row_spread)
    b = lognormal_multipliers(rng, n_in, stats.column_spread)
    if density <= 0.0 or density >= 1.0:
        return sparse_positions(rng, n_out, n_in, density)
    lam = density_scale(a, b, density)
    order = np.argsort(-a, kind="stable")  # rows by multiplier, largest first
    a_desc = a[order]
    group = np.floor(np.log2(a_desc[0] / a_desc)).astype(np.int64)
    g_start = np.flatnonzero(np.diff(group, prepend=-1))  # each group's first sorted row
    g_len = np.diff(np.append(g_start, n_out))
    g_max = a_desc[g_start]
    n_groups = g_start.size
    counts = np.zeros(n_in, dtype=np.int64)
    row_parts = []
    per_col = max(1.0, float(np.sum(np.minimum(1.0, lam * g_max * b.max()) * g_len)))
    step = max(1, int(CANDIDATES_PER_CHUNK / per_col))
    for c0 in range(0, n_in, step):
        cols = np.arange(c0, min(n_in, c0 + step))
        seg_col = np.repeat(cols, n_groups)
        seg_grp = np.tile(np.arange(n_groups), cols.size)
        q = np.minimum(1.0, lam * g_max[seg_grp] * b[seg_col])
        seg, off = _bernoulli_runs(rng, g_len[seg_grp], q)
        sorted_row = g_start[seg_grp[seg]] + off
        col = seg_col[seg]
        p_own = np.minimum(1.0, lam * a_desc[sorted_row] * b[col])
        keep = rng.random(seg.size) * q[seg] < p_own
        key = col[keep] * n_out + order[sorted_row[keep]]
        key.sort()
        kept_col = key // n_out
        row_parts.append((key - kept_col * n_out).astype(np.int32))
        counts[cols] = np.bincount(kept_col - c0, minlength=cols.size)
    rows = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.int32)
    col_ptr = np.zeros(n_in + 1, dtype=np.int64)
    np.cumsum(counts, out=col_ptr[1:])
    return col_ptr, rows


def normal_correlation(rank_correlation: float) -> float:
    """Correlation of a bivariate normal whose Spearman correlation is ``rank_correlation``."""
    return 2.0 * math.sin(math.pi * rank_correlation / 6.0)


def latent_persistence(persistence: float, density: float) -> float:
    """Latent correlation ``h`` of the threshold model that gives ``persistence`` at ``density``.

    An input fires when ``sqrt(h) v + sqrt(1 - h) u > t`` (``v`` fixed per input, ``u`` per
    sample, both N(0, 1); ``t`` the upper ``density`` quantile). Its firing probability has
    variance ``Phi2(t, t; h) - density^2 = (1 / 2 pi) int_0^asin(h) exp(-t^2 / (1 + sin th))
    dth``, which at ``h = 1`` is ``density (1 - density)``; ``h`` solves variance =
    ``persistence * density (1 - density)`` (trapezoid rule on 4097 points, interpolated).
    """
    if persistence <= 0.0 or not 0.0 < density < 1.0:
        return 0.0
    if persistence >= 1.0:
        return 1.0
    from statistics import NormalDist  # a few ms of imports: only realistic layers need it

    t = NormalDist().inv_cdf(1.0 - density)
    theta = np.linspace(0.0, math.pi / 2, 4097)
    f = np.exp(-t * t / (1.0 + np.sin(theta)))
    cum = np.concatenate([[0.0], np.cumsum((f[1:] + f[:-1]) / 2 * np.diff(theta))])
    return float(np.sin(np.interp(persistence * cum[-1], cum, theta)))


def _top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Sorted indices of the ``k`` largest scores."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.argpartition(-score, k - 1)[:k])


def _propensity_rng(spec: LayerSpec) -> np.random.Generator:
    return np.random.default_rng([spec.seed, spec.inputs, spec.outputs, 2])


def firing_propensity(
    spec: LayerSpec, x: np.ndarray | None = None, rng: np.random.Generator | None = None
) -> np.ndarray:
    """The latent firing propensities ``v`` of a realistic layer's inputs (module docstring).

    Without ``x`` they are i.i.d. N(0, 1); with ``x`` they are drawn given which inputs fire
    (``x > 0``). ``rng`` defaults to the spec's propensity stream (deterministic per spec and
    ``x``); the column assignment continues that stream.
    """
    rng = _propensity_rng(spec) if rng is None else rng
    n = spec.inputs
    if x is None:
        return rng.standard_normal(n)
    fired = np.asarray(x) > 0
    k = int(np.count_nonzero(fired))
    h = latent_persistence(spec.parameters.activation_persistence, k / n)
    z = np.sort(rng.standard_normal(n))  # ascending: the top k go to the firing inputs
    s = np.empty(n)
    s[rng.permutation(np.flatnonzero(fired))] = z[n - k:]
    s[rng.permutation(np.flatnonzero(~fired))] = z[: n - k]
    return math.sqrt(h) * s + math.sqrt(1.0 - h) * rng.standard_normal(n)


def assign_columns(
    rng: np.random.Generator,
    col_ptr: np.ndarray,
    rows: np.ndarray,
    propensity: np.ndarray,
    correlation: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Reorder the columns so their counts rise with ``g v + sqrt(1 - g^2) e`` (Gaussian copula,
    ``g = normal_correlation(correlation)``); count ties broken at random. O(non-zeros)."""
    n_in = propensity.size
    g = normal_correlation(correlation)
    w = g * propensity + math.sqrt(max(0.0, 1.0 - g * g)) * rng.standard_normal(n_in)
    counts = np.diff(col_ptr)
    by_count = np.lexsort((rng.random(n_in), counts))  # generated columns, fewest first
    source = np.empty(n_in, dtype=np.int64)
    source[np.argsort(w, kind="stable")] = by_count  # input j takes column source[j]
    new_counts = counts[source]
    new_ptr = np.zeros(n_in + 1, dtype=np.int64)
    np.cumsum(new_counts, out=new_ptr[1:])
    gather = np.repeat(col_ptr[source] - new_ptr[:-1], new_counts) + np.arange(new_ptr[-1])
    return new_ptr, rows[gather]


def realistic_inputs(
    spec: LayerSpec, samples: int = 1, act_frac_bits: int = ACT_FRAC_BITS
) -> np.ndarray:
    """``samples x inputs`` int16 input samples of a realistic layer; row 0 is the input
    :func:`build_layer` gives. Each has exactly ``round(activation_density * inputs)`` non-zeros
    at the largest ``sqrt(h) v + sqrt(1 - h) u`` (module docstring)."""
    stats = spec.parameters
    if stats is None:
        raise WorkloadError("realistic_inputs needs a spec with statistics='realistic'")
    n = spec.inputs
    v = firing_propensity(spec)
    k = int(round(spec.activation_density * n))
    h = latent_persistence(stats.activation_persistence, k / n)
    rng = np.random.default_rng([spec.seed, spec.inputs, spec.outputs, 3])
    out = np.zeros((samples, n), dtype=np.int16)
    for i in range(samples):
        where = _top_k(math.sqrt(h) * v + math.sqrt(1.0 - h) * rng.standard_normal(n), k)
        vals = quantize(np.abs(rng.standard_normal(k)), act_frac_bits)
        out[i, where] = np.maximum(vals, 1)
    return out


def _realistic_layer(
    spec: LayerSpec, x: np.ndarray | None, act_frac_bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(col_ptr, rows, values, x)`` of a realistic layer (before scaling and quantization)."""
    stats = spec.parameters
    rng = np.random.default_rng([spec.seed, spec.inputs, spec.outputs, 1])
    col_ptr, rows = realistic_positions(
        rng, spec.outputs, spec.inputs, spec.weight_density, stats
    )
    rng_v = _propensity_rng(spec)
    v = firing_propensity(spec, x, rng_v)
    col_ptr, rows = assign_columns(rng_v, col_ptr, rows, v, stats.activation_column_correlation)
    values = pruned_laplace_values(rng, rows.size, spec.weight_density)
    if x is None:
        x = realistic_inputs(spec, 1, act_frac_bits)[0]
    return col_ptr, rows, values, x


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
        Shape, densities, seed, statistics mode.
    x : numpy.ndarray of int16, optional
        Input activations (for example the previous layer's outputs). Default: synthetic,
        with ``spec.activation_density``.

    Returns
    -------
    (QuantizedLayer, numpy.ndarray of int16)
    """
    if x is not None and x.shape != (spec.inputs,):
        raise WorkloadError(f"layer {spec.name!r} takes {spec.inputs} inputs, got {x.shape[0]}")
    fan_in = max(spec.inputs * spec.weight_density * max(spec.activation_density, 1e-3), 1e-3)
    if spec.statistics == "realistic":
        col_ptr, rows, values, x = _realistic_layer(spec, x, act_frac_bits)
        if values.size:
            values *= 1.0 / math.sqrt(mean_square(values) * fan_in)
    else:
        rng = np.random.default_rng([spec.seed, spec.inputs, spec.outputs])
        col_ptr, rows, values = uniform_weights(spec, rng)
        if values.size:
            values *= 1.0 / math.sqrt(mean_square(values) * fan_in)
        if x is None:
            x = synthetic_activations(rng, spec.inputs, spec.activation_density, act_frac_bits)
    layer = QuantizedLayer.from_sparse(
        spec.name, spec.inputs, spec.outputs, col_ptr, rows, values, act_frac_bits=act_frac_bits
    )
    del values  # 8 bytes per non-zero, not needed for the calibration
    if spec.output_density is not None:
        layer = calibrate_bias(layer, x, spec.output_density, input_relu=input_relu)
    return layer, x
