"""Tests of eie_sim/layer.py: QuantizedLayer validation, builders and the bias column."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie_sim.errors import EieSimError, WorkloadError
from eie_sim.formats.fixed_point import frac_bits_for
from eie_sim.layer import CODEBOOK_SIZE, MAX_WEIGHT_FRAC_BITS, QuantizedLayer

PROPS = settings(max_examples=60, deadline=None, derandomize=True)


def codebook(*vals):
    cb = np.zeros(CODEBOOK_SIZE, dtype=np.int16)
    cb[1 : 1 + len(vals)] = vals
    return cb


def valid_kwargs(**over):
    """A valid 3-input, 4-output layer; columns: {0: rows 1,3}, {1: empty}, {2: rows 0,2}."""
    kw = dict(
        name="t",
        n_in=3,
        n_out=4,
        col_ptr=np.array([0, 2, 2, 4], dtype=np.int64),
        row_idx=np.array([1, 3, 0, 2], dtype=np.int32),
        weight_idx=np.array([1, 2, 3, 1], dtype=np.uint8),
        codebook=codebook(100, -200, 300),
        weight_frac_bits=8,
    )
    kw.update(over)
    return kw


def test_valid_layer_properties():
    """A well-formed layer builds; nnz, density, has_bias and bias_values are right."""
    layer = QuantizedLayer(**valid_kwargs())
    assert layer.nnz == 4
    assert layer.weight_density == pytest.approx(4 / 12)
    assert not layer.has_bias
    assert layer.bias_values().tolist() == [0, 0, 0, 0]
    assert layer.act_frac_bits == 8
    w = layer.weights_float()
    assert w.shape == (4, 3)
    expected = np.zeros((4, 3))
    expected[1, 0], expected[3, 0] = 100 / 256, -200 / 256
    expected[0, 2], expected[2, 2] = 300 / 256, 100 / 256
    assert np.array_equal(w, expected)


def test_rows_may_decrease_across_column_boundaries():
    """Strict increase is required within a column only (also across empty columns)."""
    kw = valid_kwargs(
        col_ptr=np.array([0, 0, 2, 2, 4]),
        row_idx=np.array([2, 3, 0, 1], dtype=np.int32),
        n_in=4,
    )
    QuantizedLayer(**kw)


BAD_CASES = {
    "zero inputs": dict(n_in=0, col_ptr=np.array([0])),
    "zero outputs": dict(n_out=0),
    "col_ptr too short": dict(col_ptr=np.array([0, 2, 4])),
    "col_ptr not from 0": dict(col_ptr=np.array([1, 2, 2, 4])),
    "col_ptr decreasing": dict(col_ptr=np.array([0, 3, 2, 4])),
    "col_ptr wrong end": dict(col_ptr=np.array([0, 2, 2, 3])),
    "idx length": dict(weight_idx=np.array([1, 2, 3], dtype=np.uint8)),
    "row negative": dict(row_idx=np.array([-1, 3, 0, 2], dtype=np.int32)),
    "row too large": dict(row_idx=np.array([1, 4, 0, 2], dtype=np.int32)),
    "index 0 stored": dict(weight_idx=np.array([1, 0, 3, 1], dtype=np.uint8)),
    "index 16": dict(weight_idx=np.array([1, 16, 3, 1], dtype=np.uint8)),
    "codebook size": dict(codebook=np.zeros(15, dtype=np.int16)),
    "codebook[0] != 0": dict(codebook=np.full(16, 5, dtype=np.int16)),
    "weight frac bits 15": dict(weight_frac_bits=MAX_WEIGHT_FRAC_BITS + 1),
    "weight frac bits -1": dict(weight_frac_bits=-1),
    "act frac bits 16": dict(act_frac_bits=16),
    "bias idx alone": dict(bias_idx=np.zeros(4, dtype=np.uint8)),
    "bias codebook alone": dict(bias_codebook=codebook(5)),
    "bias idx shape": dict(bias_idx=np.zeros(3, dtype=np.uint8), bias_codebook=codebook(5)),
    "bias codebook[0]": dict(
        bias_idx=np.zeros(4, dtype=np.uint8), bias_codebook=np.full(16, 1, dtype=np.int16)
    ),
    "rows equal in column": dict(row_idx=np.array([1, 1, 0, 2], dtype=np.int32)),
    "rows decreasing in column": dict(row_idx=np.array([3, 1, 0, 2], dtype=np.int32)),
    "rows decreasing in last column": dict(row_idx=np.array([1, 3, 2, 0], dtype=np.int32)),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_invalid_layers_raise_workload_error(case):
    """Every malformed field raises WorkloadError (a one-line EieSimError) naming the layer."""
    with pytest.raises(WorkloadError) as err:
        QuantizedLayer(**valid_kwargs(**BAD_CASES[case]))
    assert isinstance(err.value, EieSimError)
    assert "'t'" in str(err.value)
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- builders


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_from_dense_rejects_non_finite_weights(bad):
    """NaN or infinite weights are a WorkloadError, not a silent garbage layer."""
    w = np.ones((3, 4))
    w[1, 2] = bad
    with pytest.raises(WorkloadError, match="NaN or infinity"):
        QuantizedLayer.from_dense("nan", w)


def test_from_sparse_rejects_non_finite_weights_and_bias():
    """from_sparse checks values and bias for NaN/inf and the bias length."""
    col_ptr, rows = np.array([0, 1, 2]), np.array([0, 1])
    with pytest.raises(WorkloadError, match="NaN"):
        QuantizedLayer.from_sparse("s", 2, 2, col_ptr, rows, np.array([1.0, np.nan]))
    with pytest.raises(WorkloadError, match="bias"):
        QuantizedLayer.from_sparse(
            "s", 2, 2, col_ptr, rows, np.array([1.0, 2.0]), bias=np.array([0.0, np.nan])
        )
    with pytest.raises(WorkloadError, match="bias must have 2"):
        QuantizedLayer.from_sparse(
            "s", 2, 2, col_ptr, rows, np.array([1.0, 2.0]), bias=np.array([1.0, 2.0, 3.0])
        )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 3, 9])
def test_from_sparse_finds_a_non_finite_weight_anywhere(bad, where):
    """NaN, +inf or -inf at the first, a middle or the last entry (next to finite values of
    either sign) is a WorkloadError."""
    values = np.array([1.0, -2.0, 0.5, 3.0, -1.0, 2.0, -0.25, 1.5, -3.0, 0.75])
    values[where] = bad
    col_ptr = np.array([0, 4, 10])
    rows = np.array([0, 1, 2, 3, 0, 1, 2, 3, 4, 5])
    with pytest.raises(WorkloadError, match="NaN or infinity"):
        QuantizedLayer.from_sparse("s", 2, 6, col_ptr, rows, values)


def test_from_sparse_quantizes_in_blocks_like_one_quantize(monkeypatch):
    """Blocked quantization (tiny blocks here) gives quantize() of the whole array, and the
    weights that round to zero are still dropped."""
    from eie_sim import layer as layer_module
    from eie_sim.formats.fixed_point import quantize

    rng = np.random.default_rng(3)
    n_in, n_out = 40, 30
    counts = rng.integers(0, n_out + 1, size=n_in)
    col_ptr = np.concatenate([[0], np.cumsum(counts)])
    rows = np.concatenate([np.sort(rng.choice(n_out, c, replace=False)) for c in counts])
    values = rng.standard_normal(rows.size)
    values[::17] = 1e-9  # rounds to zero
    whole = QuantizedLayer.from_sparse("w", n_in, n_out, col_ptr, rows, values)
    monkeypatch.setattr(layer_module, "_QUANTIZE_BLOCK", 7)
    assert np.array_equal(layer_module._quantize_blocks(values, 12), quantize(values, 12))
    blocked = QuantizedLayer.from_sparse("b", n_in, n_out, col_ptr, rows, values)
    assert blocked.nnz == rows.size - values[::17].size
    for name in ("col_ptr", "row_idx", "weight_idx", "codebook"):
        assert np.array_equal(getattr(whole, name), getattr(blocked, name))
    assert whole.weight_frac_bits == blocked.weight_frac_bits


def test_from_dense_rejects_non_2d():
    """Weights must be a 2-D (outputs, inputs) matrix."""
    with pytest.raises(WorkloadError, match="2-D"):
        QuantizedLayer.from_dense("v", np.ones(5))


def test_from_dense_few_distinct_values_is_exact():
    """<= 15 distinct weights: the layer decodes to them within half an LSB, zeros stay zero."""
    w = np.array([[0.0, 0.5, -0.25], [1.5, 0.0, 0.0], [0.0, -1.75, 0.5], [0.0, 0.0, 0.0]])
    layer = QuantizedLayer.from_dense("exact", w)
    assert (layer.n_out, layer.n_in) == (4, 3)
    assert layer.weight_frac_bits == frac_bits_for(1.75, max_frac_bits=MAX_WEIGHT_FRAC_BITS)
    assert layer.nnz == 5
    assert np.array_equal(layer.weights_float(), w)  # all are multiples of 2**-f
    assert layer.row_idx.dtype == np.int32 and layer.col_ptr.dtype == np.int64
    assert layer.col_ptr.tolist() == [0, 1, 3, 5]
    assert layer.row_idx.tolist() == [1, 0, 2, 0, 2]


@PROPS
@given(
    st.integers(1, 30),
    st.integers(1, 30),
    st.floats(0.05, 1.0),
    st.floats(0.01, 100.0),
    st.integers(0, 2**32 - 1),
)
def test_from_dense_round_trip_within_one_codebook_step(n_out, n_in, density, scale, seed):
    """weights_float() gives each weight its nearest codebook value (within one LSB)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(scale=scale, size=(n_out, n_in)) * (rng.random((n_out, n_in)) < density)
    layer = QuantizedLayer.from_dense("rt", w)
    f = layer.weight_frac_bits
    assert f == frac_bits_for(float(np.abs(w).max()), max_frac_bits=MAX_WEIGHT_FRAC_BITS)
    lsb = 2.0**-f
    wf = layer.weights_float()
    assert np.all(wf[w == 0] == 0)
    cb = layer.codebook[1:].astype(np.float64) * lsb
    nz = w != 0
    nearest = np.abs(w[nz][:, None] - cb[None, :]).min(axis=1)
    assert np.all(np.abs(wf[nz] - w[nz]) <= nearest + lsb)
    # A weight is only dropped (not stored) when it rounds to zero in the chosen format.
    stored = np.zeros(w.shape, dtype=bool)
    stored[layer.row_idx, np.repeat(np.arange(n_in), np.diff(layer.col_ptr))] = True
    assert not np.any(stored & ~nz)
    assert np.all(np.abs(w[nz & ~stored]) <= lsb / 2)
    assert layer.nnz == int(stored.sum())


def test_from_sparse_drops_weights_that_round_to_zero():
    """A weight below half an LSB of the chosen format is pruned by quantization."""
    col_ptr = np.array([0, 2, 3])
    rows = np.array([0, 2, 1])
    layer = QuantizedLayer.from_sparse("tiny", 2, 3, col_ptr, rows, np.array([1.0, 1e-9, -0.5]))
    assert layer.nnz == 2
    assert layer.col_ptr.tolist() == [0, 1, 2]
    assert layer.row_idx.tolist() == [0, 1]
    assert np.array_equal(layer.weights_float()[:, 0], [1.0, 0.0, 0.0])
    assert layer.weights_float()[1, 1] == -0.5


def test_from_sparse_empty_layer():
    """A layer with no non-zeros is valid (all-zero codebook, no entries)."""
    layer = QuantizedLayer.from_sparse("empty", 3, 2, np.zeros(4), np.zeros(0), np.zeros(0))
    assert layer.nnz == 0
    assert layer.codebook.tolist() == [0] * 16
    assert np.all(layer.weights_float() == 0)


# ----------------------------------------------------------------------------- bias


def test_from_dense_bias_is_rounded_to_activation_format():
    """The bias is rounded to Q7.8, clustered exactly (few values); zero biases store nothing."""
    w = np.eye(3)
    bias = np.array([0.5, 0.0, -1.25])
    layer = QuantizedLayer.from_dense("b", w, bias)
    assert layer.has_bias
    assert layer.bias_values().tolist() == [128, 0, -320]
    assert layer.bias_idx[1] == 0
    assert layer.bias_codebook[0] == 0


def test_augmented_csc_appends_bias_column():
    """With a bias, column n_in holds the rows with a non-zero bias and their bias indices."""
    kw = valid_kwargs(
        bias_idx=np.array([2, 0, 1, 3], dtype=np.uint8), bias_codebook=codebook(7, -8, 9)
    )
    layer = QuantizedLayer(**kw)
    col_ptr, rows, idx = layer.augmented_csc()
    assert col_ptr.tolist() == [0, 2, 2, 4, 7]
    assert rows.tolist() == [1, 3, 0, 2, 0, 2, 3]
    assert idx.tolist() == [1, 2, 3, 1, 2, 1, 3]
    assert layer.bias_values().tolist() == [-8, 0, 7, 9]


def test_augmented_csc_without_bias_is_the_weight_csc():
    """Without a bias, augmented_csc returns the weight CSC unchanged."""
    layer = QuantizedLayer(**valid_kwargs())
    col_ptr, rows, idx = layer.augmented_csc()
    assert np.array_equal(col_ptr, layer.col_ptr)
    assert np.array_equal(rows, layer.row_idx)
    assert np.array_equal(idx, layer.weight_idx)


@pytest.mark.parametrize("f", [0, 1, 8, 14])
def test_bias_activation_is_one_in_weight_format(f):
    """The bias column is broadcast with 1.0 in the weight format, 2**f."""
    layer = QuantizedLayer(**valid_kwargs(weight_frac_bits=f))
    assert layer.bias_activation() == 1 << f


@pytest.mark.parametrize("b", [-32768, -5, 1, 300, 32767])
def test_with_bias_value_sets_one_bias_everywhere(b):
    """with_bias_value(b) gives every output bias b; the weights and the original are untouched."""
    layer = QuantizedLayer(**valid_kwargs())
    lb = layer.with_bias_value(b)
    assert lb.has_bias and not layer.has_bias
    assert lb.bias_values().tolist() == [b] * 4
    assert lb.bias_codebook[0] == 0
    assert np.all(lb.bias_idx == 1)
    assert np.array_equal(lb.weight_idx, layer.weight_idx)
    assert np.array_equal(lb.codebook, layer.codebook)
    assert lb.weight_frac_bits == layer.weight_frac_bits
    col_ptr, rows, _ = lb.augmented_csc()
    assert col_ptr[-1] - col_ptr[-2] == 4 and rows[-4:].tolist() == [0, 1, 2, 3]


def test_with_bias_value_zero_stores_no_bias_entries():
    """A zero bias gives an empty bias column."""
    lb = QuantizedLayer(**valid_kwargs()).with_bias_value(0)
    assert lb.has_bias
    assert lb.bias_values().tolist() == [0, 0, 0, 0]
    col_ptr, _, _ = lb.augmented_csc()
    assert col_ptr[-1] == col_ptr[-2] == 4


def test_with_bias_value_reads_the_entries_once_and_checks_only_new_fields(monkeypatch):
    """The copy shares the layer's entry arrays, checked when the layer was made: they are not
    read again (a 94 M-entry layer pays its check once); a layer made directly, and one made
    afterwards, still are."""
    import eie_sim.layer as layer_mod

    layer = QuantizedLayer(**valid_kwargs())
    calls = []
    real = layer_mod.entry_problems
    monkeypatch.setattr(layer_mod, "entry_problems", lambda *a: calls.append(1) or real(*a))
    lb = layer.with_bias_value(7)
    assert calls == [] and lb.row_idx is layer.row_idx
    with pytest.raises(WorkloadError, match="row indices must be in"):
        QuantizedLayer(**valid_kwargs(row_idx=np.array([1, 3, 0, 9], dtype=np.int32)))
    assert calls == [1]
    QuantizedLayer(**valid_kwargs())
    assert calls == [1, 1]


def test_bias_from_the_weight_codebook_takes_the_nearest_shared_weight():
    from eie_sim import EIEConfig, simulate
    from eie_sim.formats.fixed_point import to_float

    rng = np.random.default_rng(4)
    w = rng.normal(0, 0.5, (24, 40)) * (rng.random((24, 40)) < 0.3)
    b = rng.normal(0, 0.6, 24)
    b[3] = 0.0
    layer = QuantizedLayer.from_dense("l", w, b, bias_codebook="weights")
    shared = to_float(layer.codebook, layer.weight_frac_bits)
    nearest = shared[np.abs(b[:, None] - shared[None, :]).argmin(axis=1)]
    # Each row's bias is its nearest shared weight, in the activation format (Q7.8).
    np.testing.assert_allclose(to_float(layer.bias_values(), layer.act_frac_bits), nearest,
                               atol=2.0 ** -(layer.act_frac_bits + 1))
    assert layer.bias_idx[3] == 0 or shared[layer.bias_idx[3]] == 0
    x = np.abs(rng.normal(0, 1, 40) * 256).astype(np.int16)
    for engine in ("fast", "des"):
        assert simulate(EIEConfig(num_pes=4), layer, inputs=x, engine=engine,
                        energy=None).outputs_match_reference
    separate = QuantizedLayer.from_dense("l", w, b)
    assert not np.array_equal(separate.bias_values(), layer.bias_values())


def test_unknown_bias_codebook_is_refused():
    with pytest.raises(WorkloadError, match="bias_codebook must be one of separate, weights"):
        QuantizedLayer.from_dense("l", np.eye(3), np.ones(3), bias_codebook="shared")
