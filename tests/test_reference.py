"""Tests of eie_sim/reference.py: the functional golden model of one EIE layer."""

from fractions import Fraction
from math import floor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie_sim import accel
from eie_sim.layer import CODEBOOK_SIZE, QuantizedLayer
from eie_sim.reference import broadcast_mask, reference_forward

PROPS = settings(max_examples=150, deadline=None, derandomize=True)


def sat(v):
    return max(-32768, min(32767, v))


def slow_forward(layer, x, input_relu=True, include_bias=True):
    """Pure-Python model: inputs in increasing order, saturate every addition, bias last."""
    f = layer.weight_frac_bits
    acc = [0] * layer.n_out
    cp, rows, idx = layer.col_ptr.tolist(), layer.row_idx.tolist(), layer.weight_idx.tolist()
    cb = [int(c) for c in layer.codebook]
    for j in range(layer.n_in):
        a = int(x[j])
        if a == 0 or (input_relu and a < 0):
            continue
        for e in range(cp[j], cp[j + 1]):
            prod = cb[idx[e]] * a
            term = floor(Fraction(prod, 2**f) + Fraction(1, 2))  # round half up
            acc[rows[e]] = sat(acc[rows[e]] + term)
    if include_bias and layer.bias_idx is not None:
        for i in range(layer.n_out):
            bi = int(layer.bias_idx[i])
            if bi:
                acc[i] = sat(acc[i] + int(layer.bias_codebook[bi]))
    return acc


def make_layer(dense_idx, cb, f, bias_idx=None, bias_cb=None):
    """QuantizedLayer from an (n_out, n_in) array of codebook indices (0 = no weight)."""
    cols, rows = np.nonzero(dense_idx.T)
    n_out, n_in = dense_idx.shape
    col_ptr = np.zeros(n_in + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=n_in), out=col_ptr[1:])
    return QuantizedLayer(
        name="r",
        n_in=n_in,
        n_out=n_out,
        col_ptr=col_ptr,
        row_idx=rows.astype(np.int32),
        weight_idx=dense_idx.T[cols, rows].astype(np.uint8),
        codebook=np.asarray(cb, np.int16),
        weight_frac_bits=f,
        bias_idx=None if bias_idx is None else np.asarray(bias_idx, np.uint8),
        bias_codebook=None if bias_cb is None else np.asarray(bias_cb, np.int16),
    )


def cb16(*vals):
    cb = np.zeros(CODEBOOK_SIZE, dtype=np.int16)
    cb[1 : 1 + len(vals)] = vals
    return cb


@st.composite
def layers_and_inputs(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_out, n_in = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    density = draw(st.sampled_from([0.0, 0.2, 0.6, 1.0]))
    mag = draw(st.sampled_from([100, 3000, 32767]))  # large magnitudes exercise saturation
    f = draw(st.integers(0, 14))
    cb = np.zeros(CODEBOOK_SIZE, dtype=np.int16)
    cb[1:] = rng.integers(-mag, mag + 1, size=15)
    dense = np.where(rng.random((n_out, n_in)) < density, rng.integers(1, 16, (n_out, n_in)), 0)
    bias_idx = bias_cb = None
    if draw(st.booleans()):
        bias_cb = np.zeros(CODEBOOK_SIZE, dtype=np.int16)
        bias_cb[1:] = rng.integers(-32768, 32768, size=15)
        bias_idx = rng.integers(0, 16, size=n_out)
    layer = make_layer(dense, cb, f, bias_idx, bias_cb)
    x = rng.integers(-32768, 32768, size=n_in) * (rng.random(n_in) < 0.7)
    return layer, x.astype(np.int16)


ACCELERATORS = ["numpy", "compiled"]


@pytest.mark.parametrize("accelerator", ACCELERATORS)
@PROPS
@given(layers_and_inputs(), st.booleans(), st.booleans())
def test_matches_slow_pure_python_model(accelerator, layer_x, input_relu, include_bias):
    """reference_forward equals an independent loop with exact rational rounding, in numpy and
    in compiled code alike."""
    layer, x = layer_x
    with accel.using(accelerator):
        got = reference_forward(layer, x, input_relu=input_relu, include_bias=include_bias)
    assert got.dtype == np.int16 and got.shape == (layer.n_out,)
    assert got.tolist() == slow_forward(layer, x, input_relu, include_bias)


@PROPS
@given(layers_and_inputs(), st.booleans(), st.integers(1, 9), st.integers(1, 9))
def test_chunked_and_blocked_accumulation_matches_the_slow_model(layer_x, input_relu, chunk,
                                                                 block):
    """Tiny gather chunks and column blocks: every chunk boundary, block split and bound check
    path gives the slow model's bits (the defaults only split large layers)."""
    import eie_sim.reference as ref

    layer, x = layer_x
    old = ref._CHUNK_TERMS, ref._SMALL_BLOCK
    ref._CHUNK_TERMS, ref._SMALL_BLOCK = chunk, block
    try:
        with accel.using("numpy"):  # the chunks and blocks are the numpy code's
            got = reference_forward(layer, x, input_relu=input_relu)
    finally:
        ref._CHUNK_TERMS, ref._SMALL_BLOCK = old
    assert got.tolist() == slow_forward(layer, x, input_relu, True)


def test_simple_product_and_rounding():
    """Each term is round_half_up(w * a / 2**f), in the activation format."""
    # Row 0: w=3 (f=2 -> 0.75) times a=2 (raw) -> 6/4 = 1.5 -> 2.
    # Row 1: w=-3 times a=2 -> -1.5 -> -1 (half up, not away from zero).
    layer = make_layer(np.array([[1], [2]]), cb16(3, -3), 2)
    assert reference_forward(layer, np.array([2], np.int16)).tolist() == [2, -1]


def test_input_relu_drops_negative_activations():
    """With input_relu, negative inputs are not broadcast; without it they contribute."""
    layer = make_layer(np.array([[1, 1]]), cb16(256), 8)  # weight 1.0
    x = np.array([-100, 40], dtype=np.int16)
    assert reference_forward(layer, x, input_relu=True).tolist() == [40]
    assert reference_forward(layer, x, input_relu=False).tolist() == [-60]
    assert broadcast_mask(x, True).tolist() == [False, True]
    assert broadcast_mask(x, False).tolist() == [True, True]
    assert broadcast_mask(np.array([0, -1, 1]), False).tolist() == [False, True, True]


def test_saturation_happens_per_addition_in_column_order():
    """+30000, +30000, -30000 saturates to 32767 then ends at 2767, not clip(30000)."""
    layer = make_layer(np.array([[1, 1, 2]]), cb16(30000, -30000), 0)
    x = np.ones(3, dtype=np.int16)
    out = reference_forward(layer, x)
    assert out.tolist() == [2767]
    assert int(np.clip(30000 + 30000 - 30000, -32768, 32767)) != out[0]
    # Negative side as well: -30000, -30000, +30000 -> -32768 + 30000.
    layer = make_layer(np.array([[2, 2, 1]]), cb16(30000, -30000), 0)
    assert reference_forward(layer, x).tolist() == [-2768]


def test_bias_is_added_last_with_saturation():
    """The bias column comes after every input: saturated weights then bias -100 -> 32667."""
    layer = make_layer(np.array([[1, 1]]), cb16(30000), 0).with_bias_value(-100)
    x = np.ones(2, dtype=np.int16)
    assert reference_forward(layer, x).tolist() == [32667]
    assert reference_forward(layer, x, include_bias=False).tolist() == [32767]
    # Bias first would give sat(sat(-100 + 30000) + 30000) = 32767.


@pytest.mark.parametrize("f", [0, 1, 7, 14])
@pytest.mark.parametrize("b", [-32768, -321, -1, 1, 255, 32767])
def test_bias_value_is_added_exactly_for_any_weight_format(f, b):
    """bias * 2**f >> f returns the bias itself: no rounding error on the bias column."""
    layer = make_layer(np.zeros((3, 2), dtype=int), cb16(1), f).with_bias_value(b)
    assert reference_forward(layer, np.zeros(2, np.int16)).tolist() == [b] * 3


def test_rows_without_bias_get_none():
    """Rows with bias index 0 keep their weight sum."""
    layer = make_layer(np.array([[1], [1]]), cb16(256), 8, [0, 1], cb16(-10))
    assert reference_forward(layer, np.array([50], np.int16)).tolist() == [50, 40]


def test_wrong_input_length_raises():
    """The input must have n_in activations."""
    layer = make_layer(np.array([[1, 1]]), cb16(1), 0)
    with pytest.raises(ValueError, match="takes 2"):
        reference_forward(layer, np.zeros(3, np.int16))
