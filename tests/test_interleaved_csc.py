"""Tests of eie_sim/formats/interleaved_csc.py: EIE's per-PE interleaved CSC encoding."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie_sim.formats.interleaved_csc import decode, decode_rows, encode, num_passes

# ----------------------------------------------------------------------------- helpers


def dense_to_csc(dense):
    """CSC (col_ptr, row_idx, idx) of an (n_out, n_in) array of codebook indices (0 = zero)."""
    cols, rows = np.nonzero(dense.T)
    col_ptr = np.zeros(dense.shape[1] + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=dense.shape[1]), out=col_ptr[1:])
    return col_ptr, rows.astype(np.int32), dense.T[cols, rows].astype(np.uint8)


def slow_encode(dense, num_pes, rows_per_pass, bits):
    """Straightforward per-PE, per-pass, per-column streaming encoder (the paper's rule).

    Walks every row of every column slice; a zero run of ``2**bits`` or more before a real
    entry emits padding entries ``(0, 2**bits - 1)``, each standing for ``2**bits`` rows.
    Returns per-PE lists of v, z and pointers, and the number of passes.
    """
    n_out, n_in = dense.shape
    span = 1 << bits
    owned = [list(range(k, n_out, num_pes)) for k in range(num_pes)]
    passes = max(1, max((len(o) + rows_per_pass - 1) // rows_per_pass for o in owned))
    cols = [dense[:, j].tolist() for j in range(n_in)]
    out = []
    for k in range(num_pes):
        v, z, ptr = [], [], [0]
        for p in range(passes):
            block = owned[k][p * rows_per_pass : (p + 1) * rows_per_pass]
            for j in range(n_in):
                col = cols[j]
                run = 0
                for i in block:
                    val = col[i]
                    if val == 0:
                        run += 1
                        continue
                    while run >= span:
                        v.append(0)
                        z.append(span - 1)
                        run -= span
                    v.append(val)
                    z.append(run)
                    run = 0
                ptr.append(len(v))
        out.append((v, z, ptr))
    return out, passes


def random_dense(rng, n_out, n_in, density, empty_col_frac):
    """Random codebook-index matrix with the given density and some forced-empty columns."""
    mask = rng.random((n_out, n_in)) < density
    mask[:, rng.random(n_in) < empty_col_frac] = False
    return np.where(mask, rng.integers(1, 16, size=(n_out, n_in)), 0).astype(np.uint8)


densities = st.one_of(
    st.sampled_from([0.0, 0.002, 0.01, 0.05, 0.3, 1.0]), st.floats(0.0, 1.0, allow_nan=False)
)

case = st.fixed_dictionaries(
    {
        "n_out": st.integers(1, 300),
        "n_in": st.integers(1, 300),
        "density": densities,
        "empty_col_frac": st.sampled_from([0.0, 0.2, 0.7]),
        "num_pes": st.integers(1, 70),
        "rows_per_pass": st.integers(1, 64),
        "bits": st.integers(1, 6),
        "seed": st.integers(0, 2**32 - 1),
    }
)

PROPS = settings(max_examples=60, deadline=None, derandomize=True)


def build(c):
    rng = np.random.default_rng(c["seed"])
    dense = random_dense(rng, c["n_out"], c["n_in"], c["density"], c["empty_col_frac"])
    col_ptr, rows, idx = dense_to_csc(dense)
    enc = encode(
        col_ptr,
        rows,
        idx,
        c["n_out"],
        num_pes=c["num_pes"],
        rows_per_pass=c["rows_per_pass"],
        relative_index_bits=c["bits"],
    )
    return dense, (col_ptr, rows, idx), enc


# ----------------------------------------------------------------------------- paper example


def test_paper_example_single_pe():
    """[0,0,1,2,0*18,3] encodes to v=[1,2,0,3], z=[2,0,15,2] (paper §III, 4-bit z, 1 PE)."""
    column = [0, 0, 1, 2] + [0] * 18 + [3]
    dense = np.array(column, dtype=np.uint8)[:, None]
    col_ptr, rows, idx = dense_to_csc(dense)
    assert rows.tolist() == [2, 3, 22]
    enc = encode(col_ptr, rows, idx, len(column), num_pes=1, rows_per_pass=64)
    assert enc.v.tolist() == [1, 2, 0, 3]
    assert enc.z.tolist() == [2, 0, 15, 2]
    assert enc.ptr.tolist() == [[0, 4]]
    assert enc.pe_offset.tolist() == [0, 4]
    assert enc.passes == 1 and enc.max_run == 15
    got_rows, got_cols = decode_rows(enc)
    assert got_rows.tolist() == [2, 3, 19, 22]  # the padding stands for rows 4..19
    assert got_cols.tolist() == [0, 0, 0, 0]
    dcp, drows, didx = decode(enc, len(column))
    assert dcp.tolist() == [0, 3] and drows.tolist() == [2, 3, 22] and didx.tolist() == [1, 2, 3]


def test_run_of_exactly_max_run_needs_no_padding_but_one_more_does():
    """15 zeros fit in z=15; 16 zeros need one padding entry (4-bit z)."""
    for zeros, v, z in [
        (15, [7], [15]),
        (16, [0, 7], [15, 0]),
        (31, [0, 7], [15, 15]),
        (32, [0, 0, 7], [15, 15, 0]),
    ]:
        dense = np.array([0] * zeros + [7], dtype=np.uint8)[:, None]
        enc = encode(*dense_to_csc(dense), zeros + 1, num_pes=1, rows_per_pass=64)
        assert enc.v.tolist() == v, zeros
        assert enc.z.tolist() == z, zeros


def test_narrow_relative_index_padding():
    """With 1-bit z each padding entry covers 2 rows: 5 zeros -> two paddings then z=1."""
    dense = np.array([0, 0, 0, 0, 0, 9], dtype=np.uint8)[:, None]
    enc = encode(*dense_to_csc(dense), 6, num_pes=1, rows_per_pass=64, relative_index_bits=1)
    assert enc.v.tolist() == [0, 0, 9]
    assert enc.z.tolist() == [1, 1, 1]
    assert enc.max_run == 1


def test_interleaving_two_pes_two_passes():
    """Rows alternate between 2 PEs; with 2 rows per pass each PE's 4 rows take 2 passes."""
    dense = np.array([1, 2, 3, 4, 5, 6, 7, 8], dtype=np.uint8)[:, None]
    enc = encode(*dense_to_csc(dense), 8, num_pes=2, rows_per_pass=2)
    assert enc.passes == 2
    # PE 0 owns rows 0,2 (pass 0) and 4,6 (pass 1); PE 1 owns 1,3 and 5,7.
    assert enc.pe_entries(0)[0].tolist() == [1, 3, 5, 7]
    assert enc.pe_entries(1)[0].tolist() == [2, 4, 6, 8]
    assert enc.z.tolist() == [0] * 8  # relative indices restart at every pass
    assert enc.ptr.tolist() == [[0, 2, 4], [0, 2, 4]]
    assert enc.entry_counts().shape == (2, 2, 1)
    assert decode_rows(enc)[0].tolist() == [0, 2, 4, 6, 1, 3, 5, 7]


def test_empty_matrix():
    """An all-zero matrix encodes to no entries and decodes back to empty columns."""
    dense = np.zeros((10, 4), dtype=np.uint8)
    enc = encode(*dense_to_csc(dense), 10, num_pes=3, rows_per_pass=2)
    assert enc.v.size == 0 and enc.z.size == 0
    assert np.all(enc.ptr == 0)
    assert enc.entries_per_pe().tolist() == [0, 0, 0]
    col_ptr, rows, idx = decode(enc, 10)
    assert col_ptr.tolist() == [0] * 5 and rows.size == 0 and idx.size == 0


def test_decode_rejects_rows_beyond_outputs():
    """Decoding against too few outputs is reported as a corrupt encoding."""
    dense = np.zeros((20, 1), dtype=np.uint8)
    dense[19, 0] = 4
    enc = encode(*dense_to_csc(dense), 20, num_pes=2, rows_per_pass=64)
    with pytest.raises(ValueError, match="corrupt"):
        decode(enc, 10)


@pytest.mark.parametrize(
    "n_out, num_pes, rows_per_pass",
    [(300, 1, 1), (600, 2, 1), (70_001, 1, 1), (140_000, 3, 2)],  # >256 and >65536 groups
)
def test_many_pe_pass_groups_match_slow_encoder(n_out, num_pes, rows_per_pass):
    """Encodings with more (PE, pass) groups than uint8/uint16 sort keys hold are still right."""
    rng = np.random.default_rng(n_out)
    dense = random_dense(rng, n_out, 3, 0.02, 0.0)
    dense[-1, 2] = 5  # the last row of the last group is used
    enc = encode(
        *dense_to_csc(dense),
        n_out,
        num_pes=num_pes,
        rows_per_pass=rows_per_pass,
        relative_index_bits=2,
    )
    ref, passes = slow_encode(dense, num_pes, rows_per_pass, 2)
    assert enc.passes == passes
    for k, (v, z, ptr) in enumerate(ref):
        assert enc.pe_entries(k)[0].tolist() == v
        assert enc.pe_entries(k)[1].tolist() == z
        assert enc.ptr[k].tolist() == ptr
    for got, want in zip(decode(enc, n_out), dense_to_csc(dense), strict=True):
        assert np.array_equal(got, want)


# ----------------------------------------------------------------------------- num_passes


@pytest.mark.parametrize(
    "n_out, num_pes, rows_per_pass, expected",
    [
        (4096, 64, 64, 1),
        (4097, 64, 64, 2),  # PE 0 owns 65 rows
        (1000, 64, 64, 1),
        (8791, 64, 64, 3),  # 138 rows per PE
        (1, 64, 64, 1),  # PEs without rows still make one pass
        (10, 1, 3, 4),
        (9, 1, 3, 3),
        (300, 70, 1, 5),
    ],
)
def test_num_passes_known(n_out, num_pes, rows_per_pass, expected):
    """Passes = ceil(ceil(n_out / N) / R), at least 1."""
    assert num_passes(n_out, num_pes, rows_per_pass) == expected


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(1, 10**6), st.integers(1, 4096), st.integers(1, 4096))
def test_num_passes_covers_pe0_rows(n_out, num_pes, rows_per_pass):
    """num_passes * R covers PE 0's rows, and one pass fewer would not (unless it is 1)."""
    p = num_passes(n_out, num_pes, rows_per_pass)
    rows_pe0 = len(range(0, n_out, num_pes))
    assert p >= 1
    assert p * rows_per_pass >= rows_pe0
    assert p == 1 or (p - 1) * rows_per_pass < rows_pe0


# ----------------------------------------------------------------------------- properties


@PROPS
@given(case)
def test_encode_matches_slow_streaming_encoder(c):
    """v, z, pointers, PE offsets and passes equal the row-by-row reference encoder's."""
    dense, _, enc = build(c)
    ref, passes = slow_encode(dense, c["num_pes"], c["rows_per_pass"], c["bits"])
    assert enc.num_pes == c["num_pes"]
    assert enc.passes == passes == num_passes(c["n_out"], c["num_pes"], c["rows_per_pass"])
    assert enc.n_cols == c["n_in"]
    assert enc.relative_index_bits == c["bits"]
    assert enc.v.dtype == np.uint8 and enc.z.dtype == np.uint8
    assert enc.ptr.shape == (c["num_pes"], passes * c["n_in"] + 1)
    for k, (v, z, ptr) in enumerate(ref):
        ev, ez = enc.pe_entries(k)
        assert ev.tolist() == v
        assert ez.tolist() == z
        assert enc.ptr[k].tolist() == ptr
    assert enc.pe_offset.tolist() == np.cumsum([0] + [len(r[0]) for r in ref]).tolist()


@PROPS
@given(case)
def test_round_trip_decode_equals_input(c):
    """decode(encode(csc)) returns the input CSC exactly."""
    _, (col_ptr, rows, idx), enc = build(c)
    dcp, drows, didx = decode(enc, c["n_out"])
    assert np.array_equal(dcp, col_ptr)
    assert np.array_equal(drows, rows)
    assert np.array_equal(didx, idx)


@PROPS
@given(case)
def test_padding_count_and_bounds(c):
    """Paddings = sum over (PE, pass, column) gaps of gap // 2**bits; z fits in bits."""
    dense, (col_ptr, rows, _), enc = build(c)
    n, r, span = c["num_pes"], c["rows_per_pass"], 1 << c["bits"]
    expected = 0
    for j in range(c["n_in"]):
        last = {}  # (pe, pass) -> last local row in this column slice
        for i in rows[col_ptr[j] : col_ptr[j + 1]].tolist():
            k, local = i % n, i // n
            key, lrow = (k, local // r), local % r
            gap = lrow - last.get(key, -1) - 1
            expected += gap // span
            last[key] = lrow
    pad = enc.v == 0
    assert int(pad.sum()) == expected
    assert enc.v.size == rows.size + expected
    assert np.all(enc.z[pad] == span - 1)
    assert np.all(enc.z <= span - 1)
    assert np.all(enc.v <= 15)


@PROPS
@given(case)
def test_ownership_pointers_and_decode_rows(c):
    """Entries of PE k lie on rows i % N == k; pointers are monotone; decode_rows is right."""
    dense, _, enc = build(c)
    n, r, n_in = c["num_pes"], c["rows_per_pass"], c["n_in"]
    # Pointers: start at 0, never decrease, end at the PE's entry count.
    assert np.all(enc.ptr[:, 0] == 0)
    assert np.all(np.diff(enc.ptr, axis=1) >= 0)
    assert np.array_equal(enc.ptr[:, -1], enc.entries_per_pe())
    assert np.array_equal(np.diff(enc.pe_offset), enc.entries_per_pe())
    counts = enc.entry_counts()
    assert counts.shape == (n, enc.passes, n_in)
    assert int(counts.sum()) == enc.v.size

    g_rows, g_cols = decode_rows(enc)
    assert g_rows.shape == g_cols.shape == enc.v.shape
    assert np.all((g_rows >= 0) & (g_rows < c["n_out"]))
    for k in range(n):
        s, e = enc.pe_offset[k], enc.pe_offset[k + 1]
        rk, ck = g_rows[s:e], g_cols[s:e]
        assert np.all(rk % n == k)
        # Storage order within a PE: by pass, then column, then row.
        pas = (rk // n) // r
        key = (pas * n_in + ck) * c["n_out"] + rk
        assert np.all(np.diff(key) > 0)
        # The real entries of PE k are exactly the non-zeros of its rows, values included.
        real = enc.v[s:e] != 0
        vk = enc.v[s:e][real].tolist()
        got = sorted(zip(rk[real].tolist(), ck[real].tolist(), vk, strict=True))
        want_r, want_c = np.nonzero(dense)
        want = sorted(
            (i, j, int(dense[i, j]))
            for i, j in zip(want_r.tolist(), want_c.tolist(), strict=True)
            if i % n == k
        )
        assert got == want


def slice_summaries_from_entries(ref, passes, n_in):
    """Padding, first and last real local row of every (PE, pass, column) slice, read off the
    slow encoder's entries (-1 for a slice without real entries)."""
    n = len(ref)
    pad = np.zeros((n, passes, n_in), dtype=np.int64)
    first = np.full((n, passes, n_in), -1, dtype=np.int64)
    last = np.full((n, passes, n_in), -1, dtype=np.int64)
    for k, (v, z, ptr) in enumerate(ref):
        for s in range(passes * n_in):
            p, j = divmod(s, n_in)
            row = -1
            for e in range(ptr[s], ptr[s + 1]):
                row += z[e] + 1
                if v[e] == 0:
                    pad[k, p, j] += 1
                    continue
                if first[k, p, j] < 0:
                    first[k, p, j] = row
                last[k, p, j] = row
    return pad, first, last


@pytest.mark.parametrize("accelerator", ["numpy", "compiled"])
@PROPS
@given(c=case)
def test_slice_summaries_match_the_entries(accelerator, c):
    """The per-slice padding and first/last rows the fast engine reads agree with the entries,
    from the numpy sort and from the compiled walk alike."""
    from eie_sim import accel

    with accel.using(accelerator):
        dense, _, enc = build(c)
    ref, passes = slow_encode(dense, c["num_pes"], c["rows_per_pass"], c["bits"])
    pad, first, last = slice_summaries_from_entries(ref, passes, c["n_in"])
    np.testing.assert_array_equal(enc.slice_padding, pad)
    np.testing.assert_array_equal(enc.slice_first_row, first)
    np.testing.assert_array_equal(enc.slice_last_row, last)
    assert enc.ptr[:, -1].tolist() == [len(r[0]) for r in ref]


@PROPS
@given(c=case)
def test_threaded_summaries_equal_the_numpy_ones(c):
    """The compiled walk split over threads by column ranges (forced with a tiny threshold)
    gives the numpy code's summaries."""
    from eie_sim import accel

    dense, (col_ptr, rows, idx), _ = build(c)
    kw = dict(num_pes=c["num_pes"], rows_per_pass=c["rows_per_pass"],
              relative_index_bits=c["bits"])
    with accel.using("numpy"):
        want = encode(col_ptr, rows, idx, c["n_out"], **kw)
    old = accel.PARALLEL_ENTRIES
    accel.PARALLEL_ENTRIES = 1
    try:
        with accel.using("compiled"):
            got = encode(col_ptr, rows, idx, c["n_out"], **kw)
    finally:
        accel.PARALLEL_ENTRIES = old
    for name in ("ptr", "pe_offset", "slice_padding", "slice_first_row", "slice_last_row"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


@pytest.mark.parametrize("accelerator", ["numpy", "compiled"])
@PROPS
@given(c=case)
def test_extra_column_encodes_like_the_appended_column(accelerator, c):
    """The bias passed as ``extra_column`` encodes exactly like the matrix with that column
    appended (summaries, pointers and entries)."""
    from eie_sim import accel

    dense, (col_ptr, rows, idx), _ = build(c)
    if dense.shape[1] < 2:
        return
    kw = dict(num_pes=c["num_pes"], rows_per_pass=c["rows_per_pass"],
              relative_index_bits=c["bits"])
    split = int(col_ptr[-2])
    with accel.using(accelerator):
        whole = encode(col_ptr, rows, idx, c["n_out"], **kw)
        extra = encode(col_ptr[:-1], rows[:split], idx[:split], c["n_out"],
                       extra_column=(rows[split:], idx[split:]), **kw)
    for name in ("ptr", "pe_offset", "slice_padding", "slice_first_row", "slice_last_row", "v",
                 "z"):
        np.testing.assert_array_equal(getattr(extra, name), getattr(whole, name))
    assert extra.n_cols == whole.n_cols
