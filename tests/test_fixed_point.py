"""Tests of eie_sim/formats/fixed_point.py: the 16-bit fixed-point rules of the EIE datapath."""

from fractions import Fraction
from math import floor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie_sim.formats.fixed_point import (
    ACT_FRAC_BITS,
    INT16_MAX,
    INT16_MIN,
    MAX_FRAC_BITS,
    accumulate_saturating,
    frac_bits_for,
    quantize,
    round_shift,
    saturate16,
    to_float,
)

PROPS = settings(max_examples=200, deadline=None, derandomize=True)


def exact_half_up(p: int, shift: int) -> int:
    """floor(p / 2**shift + 1/2) computed with exact rationals (independent of shifts)."""
    return floor(Fraction(p, 1 << shift) + Fraction(1, 2))


# ----------------------------------------------------------------------------- constants


def test_constants_are_the_int16_range_and_q7_8():
    """The datapath is two's-complement int16 with Q7.8 activations by default."""
    assert (INT16_MIN, INT16_MAX) == (-32768, 32767)
    assert ACT_FRAC_BITS == 8
    assert MAX_FRAC_BITS == 15


# ----------------------------------------------------------------------------- quantize


def test_quantize_known_values_and_dtype():
    """Exactly representable values map to their integer code; the result is int16."""
    q = quantize(np.array([0.0, 1.0, -1.0, 0.5, 1 / 256, -3.25]), 8)
    assert q.dtype == np.int16
    assert q.tolist() == [0, 256, -256, 128, 1, -832]


def test_quantize_rounds_half_up_including_negatives():
    """Ties round towards +inf (floor(x + 0.5)), also for negative values, never to even."""
    lsb = 1 / 256
    ties = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5]) * lsb
    assert quantize(ties, 8).tolist() == [1, 2, 3, 0, -1, -2]


def test_quantize_rounds_to_nearest_off_ties():
    """Non-tie values go to the nearest code."""
    lsb = 1 / 256
    x = np.array([0.49, 0.51, -0.49, -0.51, 1.26]) * lsb
    assert quantize(x, 8).tolist() == [0, 1, 0, -1, 1]


def test_quantize_saturates_to_int16():
    """Values outside the format clip to INT16_MIN / INT16_MAX instead of wrapping."""
    q = quantize(np.array([128.0, 1e9, -128.0, -129.0, -1e9, 127.99]), 8)
    assert q.tolist() == [INT16_MAX, INT16_MAX, INT16_MIN, INT16_MIN, INT16_MIN, 32765]


def test_quantize_scalar_and_zero_frac_bits():
    """A Python float works; frac_bits 0 rounds to integers."""
    assert int(quantize(2.5, 0)) == 3
    assert int(quantize(-2.5, 0)) == -2
    assert int(quantize(0.75, 15)) == 24576


@PROPS
@given(
    st.lists(st.floats(-127.0, 127.0, allow_nan=False), min_size=1, max_size=50),
    st.integers(0, 8),
)
def test_quantize_error_at_most_half_lsb(values, frac_bits):
    """In range, quantization error is at most half an LSB and to_float inverts the code."""
    x = np.array(values)
    q = quantize(x, frac_bits)
    err = np.abs(to_float(q, frac_bits) - x)
    assert np.all(err <= 0.5 / (1 << frac_bits) + 1e-12)


def test_to_float_divides_by_scale():
    """to_float is the real value of the code."""
    assert to_float(np.array([256, -128, 1]), 8).tolist() == [1.0, -0.5, 1 / 256]
    assert float(to_float(3, 0)) == 3.0


# ----------------------------------------------------------------------------- round_shift


@pytest.mark.parametrize(
    "product, shift, expected",
    [
        (3, 1, 2),  # 1.5 -> 2
        (1, 1, 1),  # 0.5 -> 1
        (-1, 1, 0),  # -0.5 -> 0 (half up, not away from zero)
        (-3, 1, -1),  # -1.5 -> -1
        (-5, 1, -2),  # -2.5 -> -2
        (-5, 2, -1),  # -1.25 -> -1
        (-6, 2, -1),  # -1.5 -> -1
        (-7, 2, -2),  # -1.75 -> -2
        (7, 2, 2),  # 1.75 -> 2
        (6, 2, 2),  # 1.5 -> 2
        (5, 2, 1),  # 1.25 -> 1
        (0, 14, 0),
        (-(1 << 13), 14, 0),  # exactly -0.5 -> 0
        (-(1 << 13) - 1, 14, -1),
    ],
)
def test_round_shift_known_cases(product, shift, expected):
    """Right shift rounds half up (towards +inf) for positive and negative products."""
    assert round_shift(product, shift) == expected


def test_round_shift_zero_shift_is_identity():
    """A shift of 0 returns the product unchanged (no spurious rounding term)."""
    assert round_shift(-7, 0) == -7
    arr = np.array([-3, 0, 5], dtype=np.int64)
    assert np.array_equal(round_shift(arr, 0), arr)


@PROPS
@given(st.integers(-(1 << 30), 1 << 30), st.integers(0, 15))
def test_round_shift_matches_exact_rational_rounding(product, shift):
    """round_shift(p, s) == floor(p / 2**s + 1/2) for any int32-sized product."""
    assert round_shift(product, shift) == exact_half_up(product, shift)


@PROPS
@given(st.lists(st.integers(-(1 << 30), 1 << 30), min_size=1, max_size=40), st.integers(0, 15))
def test_round_shift_on_int64_arrays(products, shift):
    """The vectorised path on int64 arrays gives the same results as exact rounding."""
    got = round_shift(np.array(products, dtype=np.int64), shift)
    assert got.tolist() == [exact_half_up(p, shift) for p in products]


# ----------------------------------------------------------------------------- saturate16


@pytest.mark.parametrize(
    "x, expected",
    [
        (0, 0),
        (32767, 32767),
        (32768, 32767),
        (10**9, 32767),
        (-32768, -32768),
        (-32769, -32768),
        (-(10**9), -32768),
        (-5, -5),
    ],
)
def test_saturate16_python_ints(x, expected):
    """Python ints clamp to the int16 range and stay Python ints."""
    out = saturate16(x)
    assert out == expected
    assert type(out) is int


def test_saturate16_numpy_scalar_and_array():
    """numpy integer scalars return an int; arrays are clipped element-wise."""
    out = saturate16(np.int64(40000))
    assert out == INT16_MAX and type(out) is int
    arr = np.array([-40000, -32768, 0, 32767, 40000], dtype=np.int64)
    assert saturate16(arr).tolist() == [-32768, -32768, 0, 32767, 32767]


# ----------------------------------------------------------------------------- frac_bits_for


@pytest.mark.parametrize(
    "max_abs, expected",
    [
        (0.0, 15),
        (0.5, 15),  # 0.5 * 2**15 = 16384 fits
        (0.99, 15),  # 32440 fits
        (1.0, 14),  # 32768 does not fit in 15 fraction bits
        (1.99, 14),
        (2.0, 13),
        (127.0, 8),
        (32767.5 / 256, 7),  # 32767.5 would round up to 32768 with 8 fraction bits
        (128.0, 7),
        (32767.0, 0),
        (40000.0, 0),  # nothing fits: falls back to 0
    ],
)
def test_frac_bits_for_known_values(max_abs, expected):
    """The largest f with max_abs * 2**f <= INT16_MAX."""
    assert frac_bits_for(max_abs) == expected


def test_frac_bits_for_respects_max_frac_bits():
    """The cap limits small magnitudes; larger ones are unaffected."""
    assert frac_bits_for(0.0, max_frac_bits=14) == 14
    assert frac_bits_for(0.1, max_frac_bits=10) == 10
    assert frac_bits_for(3.0, max_frac_bits=14) == 13


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_frac_bits_for_rejects_non_finite(bad):
    """Non-finite magnitudes raise ValueError."""
    with pytest.raises(ValueError, match="finite"):
        frac_bits_for(bad)


@PROPS
@given(st.floats(1e-6, 32767.0, allow_nan=False), st.integers(0, 15))
def test_frac_bits_for_is_maximal_and_fits(max_abs, cap):
    """The result fits (no saturation on quantize) and one more fraction bit would not fit."""
    f = frac_bits_for(max_abs, max_frac_bits=cap)
    assert 0 <= f <= cap
    assert max_abs * (1 << f) <= INT16_MAX
    assert f == cap or max_abs * (1 << (f + 1)) > INT16_MAX
    q = int(quantize(max_abs, f))
    assert abs(q / (1 << f) - max_abs) <= 0.5 / (1 << f) + 1e-9


# ------------------------------------------------------------------------- accumulate_saturating


def sequential_saturating(rows, order, terms, n):
    """Per row, add its terms in increasing ``order`` (ties: input order), saturating each time."""
    acc = [0] * n
    for _, _, r, t in sorted(zip(order, range(len(terms)), rows, terms, strict=True)):
        acc[r] = max(INT16_MIN, min(INT16_MAX, acc[r] + t))
    return acc


@PROPS
@given(
    st.integers(1, 6),
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 8), st.integers(-40000, 40000)),
        max_size=60,
    ),
)
def test_accumulate_saturating_matches_sequential_order(n, entries):
    """Vectorised saturating accumulation equals a per-row sequential loop in ``order``."""
    entries = [(r % n, o, t) for r, o, t in entries]
    rows = np.array([e[0] for e in entries], dtype=np.int64)
    order = np.array([e[1] for e in entries], dtype=np.int64)
    terms = np.array([e[2] for e in entries], dtype=np.int64)
    got = accumulate_saturating(rows, order, terms, n)
    assert got.dtype == np.int16 and got.shape == (n,)
    want = sequential_saturating(rows.tolist(), order.tolist(), terms.tolist(), n)
    assert got.tolist() == want


def test_accumulate_saturating_order_matters():
    """The terms are replayed in ``order``, not in array order: saturation makes that matter."""
    rows = np.zeros(3, dtype=np.int64)
    terms = np.array([-30000, 30000, 30000], dtype=np.int64)
    assert accumulate_saturating(rows, np.array([2, 0, 1]), terms, 1).tolist() == [2767]
    assert accumulate_saturating(rows, np.array([0, 1, 2]), terms, 1).tolist() == [30000]
    # A row that cannot overflow gets the plain sum; an untouched row stays 0.
    out = accumulate_saturating(np.array([1, 1]), np.array([0, 1]), np.array([5, -7]), 3)
    assert out.tolist() == [0, -2, 0]
