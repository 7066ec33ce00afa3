# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The fast path's hot loops, compiled when the package is installed (C through Cython).

Each loop is one documented rule written the direct way; the Python faces that choose, split and
check them hold the numpy code that computes the same values: :mod:`eie_sim.accel` (EIE's
encoding, outputs, slice counts and reference, the PE arrays' recurrence, ESE's SpMV),
:mod:`eie_sim.engines.stc.kernels` (the tensor core's GEMM), :mod:`eie_sim.layer` (a layer's
entry checks, fixed-point rounding) and :mod:`eie_sim.compress.weight_sharing` (k-means'
histogram and look-up). Every loop
releases the interpreter lock and works on a caller-given range (passes, output rows, columns,
entries or GEMM tasks), so the callers split the work between threads; the arrays' dtypes and
contiguity are checked on entry by the typed memoryviews.
"""

from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy


cdef extern from "_gemm_rows.h" nogil:
    void eie_sim_add_four(float* acc, const float* x0, const float* x1, const float* x2,
                          const float* x3, float w0, float w1, float w2, float w3, Py_ssize_t n)
    void eie_sim_add_one(float* acc, const float* x0, float w0, Py_ssize_t n)

ctypedef struct SliceState:
    # One PE's open slice in :func:`slice_summaries`: entries (real + padding), padding, first
    # and last local row (-1: none yet); together, so an entry touches one cache line.
    int32_t count
    int32_t pad
    int32_t first
    int32_t last

cdef enum:
    # Columns of slice summaries :func:`slice_summaries` stages before copying them out (16
    # int32: one 64-byte cache line per row).
    STAGED_COLUMNS = 16

cdef int64_t INT16_LO = -32768
cdef int64_t INT16_HI = 32767


cdef inline Py_ssize_t _first_at_least(const int32_t[::1] a, Py_ssize_t lo, Py_ssize_t hi,
                                       int64_t value) noexcept nogil:
    # First position in [lo, hi) of the ascending run a[lo:hi] holding a value >= ``value``.
    cdef Py_ssize_t mid
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if a[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline void _row_run(const int64_t[::1] col_ptr, const int32_t[::1] row_idx,
                          Py_ssize_t c, Py_ssize_t r_lo, Py_ssize_t r_hi, Py_ssize_t n_rows,
                          Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    # [lo, hi): the entries of column c with rows in [r_lo, r_hi) (rows ascend within a
    # column, so they are a run of it).
    lo[0] = col_ptr[c]
    hi[0] = col_ptr[c + 1]
    if r_lo > 0:
        lo[0] = _first_at_least(row_idx, lo[0], hi[0], r_lo)
    if r_hi < n_rows:
        hi[0] = _first_at_least(row_idx, lo[0], hi[0], r_hi)


cdef inline int64_t _saturate(int64_t v) noexcept nogil:
    return INT16_LO if v < INT16_LO else (INT16_HI if v > INT16_HI else v)


def recurrence(const int64_t[:, :, ::1] work, const int64_t[::1] adv, int64_t capacity,
               int64_t push_to_issue, const int64_t[:, ::1] ready, bint has_ready,
               int64_t[:, ::1] push, int64_t[:, :, ::1] first, int64_t[:, :, ::1] last,
               int64_t[:, ::1] held, Py_ssize_t p_lo, Py_ssize_t p_hi):
    """The PE array's broadcast recurrence (docs/MODEL.md) for passes [p_lo, p_hi), and each
    PE's cycles per pass waiting for broadcasts a full queue held back (``held``)."""
    cdef Py_ssize_t n = work.shape[1], b_total = work.shape[2], p, b, k
    cdef int64_t t, earliest, most, s, prev_push, f, pushed, tried
    cdef int64_t* start_max = <int64_t*> malloc(max(b_total, 1) * sizeof(int64_t))
    cdef int64_t* free_at = <int64_t*> malloc(max(n, 1) * sizeof(int64_t))
    if start_max == NULL or free_at == NULL:
        free(start_max)
        free(free_at)
        raise MemoryError()
    with nogil:
        for p in range(p_lo, p_hi):
            for k in range(n):
                free_at[k] = 0
                held[p, k] = 0
            prev_push = 0
            for b in range(b_total):
                t = prev_push + 1 + adv[b]  # the first attempt
                tried = t + push_to_issue
                if b >= capacity and start_max[b - capacity] > t:
                    t = start_max[b - capacity]
                push[p, b] = t
                pushed = t + push_to_issue
                earliest = pushed
                if has_ready and ready[p, b] > earliest:
                    earliest = ready[p, b]
                most = earliest
                for k in range(n):
                    f = free_at[k]
                    # held: max(F + 1, push + P) - max(F + 1, attempt + P)
                    if pushed > f:
                        held[p, k] += pushed - (tried if tried > f else f)
                    s = f if f > earliest else earliest
                    first[p, k, b] = s
                    free_at[k] = s + work[p, k, b]
                    last[p, k, b] = free_at[k] - 1
                    if s > most:
                        most = s
                start_max[b] = most
                prev_push = t
    free(start_max)
    free(free_at)


def slice_counts(const int64_t[:, ::1] ptr, const int64_t[::1] columns, int passes,
                 Py_ssize_t n_cols, const int32_t[:, :, ::1] padding,
                 const int32_t[:, :, ::1] first_row, const int32_t[:, :, ::1] last_row,
                 int64_t max_run, int64_t entries_per_row, const int64_t[:, :, ::1] first,
                 const int64_t[:, :, ::1] last, int64_t[:, ::1] out, Py_ssize_t k_lo,
                 Py_ssize_t k_hi):
    """EIE's per-PE counts over the broadcast column slices, PE ``k`` in [k_lo, k_hi) in its
    processing order (pass by pass, broadcast by broadcast): ``out[k] = (entries looked up,
    padding entries, sparse-matrix SRAM rows read, bypassed accumulations)``. A row is read
    once for consecutive entries in it (the last-read row carries over slices and passes); a
    bypass is a slice's first real entry on the row of the previous slice's last entry, issued
    the cycle after it (``first``/``last``: issue cycles, (passes, N, B))."""
    cdef Py_ssize_t b_total = columns.shape[0], k, p, b, c, base
    cdef int64_t s, e, r0, r1, last_read, lookups, pad, reads, bypass
    cdef int32_t fr, prev_lr
    with nogil:
        for k in range(k_lo, k_hi):
            lookups = pad = reads = bypass = 0
            last_read = -1
            for p in range(passes):
                base = p * n_cols
                prev_lr = -1
                for b in range(b_total):
                    c = columns[b]
                    s = ptr[k, base + c]
                    e = ptr[k, base + c + 1] - s
                    lookups += e
                    pad += padding[k, p, c]
                    if e > 0:
                        r0 = s // entries_per_row
                        r1 = (s + e - 1) // entries_per_row
                        reads += r1 - r0 + (0 if r0 == last_read else 1)
                        last_read = r1
                    fr = first_row[k, p, c]
                    if (b > 0 and fr == prev_lr and 0 <= fr <= max_run
                            and first[p, k, b] == last[p, k, b - 1] + 1):
                        bypass += 1
                    prev_lr = last_row[k, p, c]
            out[k, 0] = lookups
            out[k, 1] = pad
            out[k, 2] = reads
            out[k, 3] = bypass


def saturating_outputs(const int64_t[::1] col_ptr, const int32_t[::1] row_idx,
                       const uint8_t[::1] weight_idx, const int64_t[::1] columns,
                       const int64_t[:, ::1] table, int64_t[::1] acc, Py_ssize_t r_lo,
                       Py_ssize_t r_hi):
    """Add ``table[i, weight_idx[e]]`` of every entry e of column ``columns[i]``, in broadcast
    order, into the saturating accumulators of rows [r_lo, r_hi) of ``acc``."""
    cdef Py_ssize_t i, e, lo, hi, c
    cdef int32_t r
    with nogil:
        for i in range(columns.shape[0]):
            c = columns[i]
            _row_run(col_ptr, row_idx, c, r_lo, r_hi, acc.shape[0], &lo, &hi)
            for e in range(lo, hi):
                r = row_idx[e]
                acc[r] = _saturate(acc[r] + table[i, weight_idx[e]])


def reference_columns(const int64_t[::1] col_ptr, const int32_t[::1] row_idx,
                      const uint8_t[::1] weight_idx, const int64_t[::1] codebook,
                      const int64_t[::1] columns, const int64_t[::1] x, int frac_bits,
                      int64_t[::1] acc, Py_ssize_t r_lo, Py_ssize_t r_hi):
    """The golden model's rule entry by entry, in broadcast order: product, round half up
    (arithmetic shift), saturating add; rows [r_lo, r_hi) of ``acc``."""
    cdef int64_t half = (<int64_t> 1 << frac_bits) >> 1, a
    cdef Py_ssize_t i, e, lo, hi, c
    cdef int32_t r
    with nogil:
        for i in range(columns.shape[0]):
            c = columns[i]
            a = x[c]
            _row_run(col_ptr, row_idx, c, r_lo, r_hi, acc.shape[0], &lo, &hi)
            for e in range(lo, hi):
                r = row_idx[e]
                acc[r] = _saturate(acc[r] + ((codebook[weight_idx[e]] * a + half) >> frac_bits))


def rounded_products(const int64_t[::1] rows, const int64_t[::1] cols,
                     const int16_t[::1] vals, const int16_t[:, ::1] a, int frac_bits,
                     int64_t[:, ::1] out, Py_ssize_t b_lo, Py_ssize_t b_hi):
    """Add ``round_shift(vals[e] * a[cols[e], b], frac_bits)`` (round half up) into
    ``out[rows[e], b]`` for every entry e and every batch column b in [b_lo, b_hi): an SpMV whose
    products are rounded one by one and summed exactly (ESE's SpMV)."""
    cdef int64_t half = (<int64_t> 1 << frac_bits) >> 1, w
    cdef Py_ssize_t e, b
    cdef const int16_t* x
    cdef int64_t* acc
    with nogil:
        for e in range(rows.shape[0]):
            w = vals[e]
            x = &a[cols[e], 0]
            acc = &out[rows[e], 0]
            for b in range(b_lo, b_hi):
                acc[b] += (w * x[b] + half) >> frac_bits


def slice_summaries(const int64_t[::1] col_ptr, const int32_t[::1] row_idx, int n, int passes,
                    int64_t rows_per_pass, int bits, int n_shift, int32_t[:, ::1] entries,
                    int32_t[:, ::1] padding, int32_t[:, ::1] first, int32_t[:, ::1] last,
                    Py_ssize_t c_lo, Py_ssize_t c_hi, Py_ssize_t c_base):
    """Per (PE x pass, column) slice of EIE's interleaved CSC: entries (real + padding),
    padding, first and last local row, for columns [c_lo, c_hi) stored as columns
    ``c_base + c``. Rows ascend within a column, so each pass's entries are a run of it; a
    run's slices are summed in per-PE state and staged; every :data:`STAGED_COLUMNS`
    columns the stage is copied out a row at a time (whole cache lines instead of four
    scattered stores per slice). A row splits into PE and local row by shift and mask when N is
    a power of two (``n_shift >= 0``), else by division."""
    cdef Py_ssize_t groups = <Py_ssize_t> n * passes, width = STAGED_COLUMNS
    cdef SliceState* st = <SliceState*> malloc(max(n, 1) * sizeof(SliceState))
    # stage[a][g][j]: array a (entries, padding, first, last), group g, staged column j
    cdef int32_t* stage = <int32_t*> malloc(4 * max(groups, 1) * width * sizeof(int32_t))
    if st == NULL or stage == NULL:
        free(st)
        free(stage)
        raise MemoryError()
    cdef SliceState* sk
    cdef int32_t* outs[4]
    cdef Py_ssize_t strides[4]
    cdef int64_t mask = ((<int64_t> 1 << n_shift) - 1) if n_shift >= 0 else 0
    cdef int64_t row, local, lrow, prev, pad, base
    cdef Py_ssize_t c, p, e, lo, hi, end, col, g, j, col0, a, slot
    cdef Py_ssize_t plane = groups * width
    cdef int k
    if c_hi <= c_lo:
        free(st)
        free(stage)
        return
    outs[0] = &entries[0, 0]
    outs[1] = &padding[0, 0]
    outs[2] = &first[0, 0]
    outs[3] = &last[0, 0]
    strides[0] = entries.shape[1]
    strides[1] = padding.shape[1]
    strides[2] = first.shape[1]
    strides[3] = last.shape[1]
    with nogil:
        for k in range(n):
            st[k].count = 0
            st[k].pad = 0
            st[k].first = -1
            st[k].last = -1
        col0 = c_lo + c_base  # the first staged column
        for c in range(c_lo, c_hi):
            lo = col_ptr[c]
            hi = col_ptr[c + 1]
            col = c + c_base
            j = col - col0
            for p in range(passes):
                if p == passes - 1:
                    end = hi
                else:
                    end = _first_at_least(row_idx, lo, hi, (p + 1) * rows_per_pass * n)
                base = p * rows_per_pass
                for e in range(lo, end):
                    row = row_idx[e]
                    if n_shift >= 0:
                        k = <int> (row & mask)
                        lrow = (row >> n_shift) - base
                    else:
                        local = row // n
                        k = <int> (row - local * n)
                        lrow = local - base
                    sk = st + k
                    prev = sk.last  # the slice's previous entry (-1: none yet)
                    pad = (lrow - prev - 1) >> bits
                    sk.pad += <int32_t> pad
                    sk.count += <int32_t> (1 + pad)
                    # branch-free (a slice's first entry comes at no regular interval)
                    sk.first = <int32_t> lrow if prev < 0 else sk.first
                    sk.last = <int32_t> lrow
                lo = end
                for k in range(n):
                    slot = (<Py_ssize_t> k * passes + p) * width + j
                    stage[slot] = st[k].count
                    stage[plane + slot] = st[k].pad
                    stage[2 * plane + slot] = st[k].first
                    stage[3 * plane + slot] = st[k].last
                    st[k].count = 0
                    st[k].pad = 0
                    st[k].first = -1
                    st[k].last = -1
            if j == width - 1 or c == c_hi - 1:  # copy the staged columns out
                for a in range(4):
                    for g in range(groups):
                        memcpy(outs[a] + g * strides[a] + col0, stage + a * plane + g * width,
                               (j + 1) * sizeof(int32_t))
                col0 = col + 1
    free(st)
    free(stage)


def blocked_gemm(const int64_t[::1] indptr, const int32_t[::1] indices, bint dense,
                 const float[::1] data, const float[:, :, ::1] xb, float[:, :, ::1] outb,
                 Py_ssize_t kblock, Py_ssize_t rblock, Py_ssize_t t_lo, Py_ssize_t t_hi):
    """The tensor core's fp16 GEMM rule (docs/STC_MODEL.md) for tasks [t_lo, t_hi): task t is
    column block ``t // row_tasks`` of ``xb``/``outb`` and rows ``rblock * (t % row_tasks)``
    onward. Every output adds its products one float32 rounding at a time in ascending K order
    (K blocks in order, entries in order inside a block); weights as compressed rows
    (``dense``: entry p of row i is activation row ``p - indptr[i]``)."""
    cdef Py_ssize_t nb = xb.shape[0], k = xb.shape[1], jb = xb.shape[2]
    cdef Py_ssize_t rows = indptr.shape[0] - 1
    cdef Py_ssize_t nrb = (rows + rblock - 1) // rblock
    cdef Py_ssize_t t, b, r0, r1, i, k0, k1, p, q, end, base
    cdef Py_ssize_t c0, c1, c2, c3
    cdef float w0, w1, w2, w3
    cdef float* acc
    cdef const float* xblk
    cdef int64_t* cursor = <int64_t*> malloc(max(rblock, 1) * sizeof(int64_t))
    if cursor == NULL:
        raise MemoryError()
    with nogil:
        for t in range(t_lo, t_hi):
            b = t // nrb
            r0 = (t % nrb) * rblock
            r1 = min(r0 + rblock, rows)
            xblk = &xb[b, 0, 0]
            for i in range(r0, r1):
                cursor[i - r0] = indptr[i]
            k0 = 0
            while k0 < k:  # K blocks in ascending order
                k1 = k0 + kblock
                for i in range(r0, r1):
                    p = cursor[i - r0]
                    end = indptr[i + 1]
                    base = indptr[i]
                    if dense:
                        q = min(end, base + k1)
                    else:
                        q = p
                        while q < end and indices[q] < k1:
                            q += 1
                    acc = &outb[b, i, 0]
                    while p + 4 <= q:
                        if dense:
                            c0 = p - base
                            c1 = c0 + 1
                            c2 = c0 + 2
                            c3 = c0 + 3
                        else:
                            c0 = indices[p]
                            c1 = indices[p + 1]
                            c2 = indices[p + 2]
                            c3 = indices[p + 3]
                        w0 = data[p]
                        w1 = data[p + 1]
                        w2 = data[p + 2]
                        w3 = data[p + 3]
                        eie_sim_add_four(acc, xblk + c0 * jb, xblk + c1 * jb, xblk + c2 * jb,
                                         xblk + c3 * jb, w0, w1, w2, w3, jb)
                        p += 4
                    while p < q:
                        c0 = (p - base) if dense else indices[p]
                        eie_sim_add_one(acc, xblk + c0 * jb, data[p], jb)
                        p += 1
                    cursor[i - r0] = q
                k0 = k1
    free(cursor)


def csc_problems(const int64_t[::1] col_ptr, const int32_t[::1] row_idx,
                 const uint8_t[::1] weight_idx, int64_t n_out, Py_ssize_t c_lo,
                 Py_ssize_t c_hi):
    """Which of a layer's entry rules the entries of columns [c_lo, c_hi) break, as bits: 1 a
    row outside [0, n_out), 2 a weight index outside 1..15, 4 rows not strictly increasing
    within a column (``col_ptr`` already checked: starts at 0, non-decreasing, ends at the
    entries)."""
    cdef Py_ssize_t c, e, lo, hi
    cdef int64_t r, prev = 0
    cdef uint8_t w
    cdef int flags = 0
    with nogil:
        for c in range(c_lo, c_hi):
            lo = col_ptr[c]
            hi = col_ptr[c + 1]
            for e in range(lo, hi):
                r = row_idx[e]
                if r < 0 or r >= n_out:
                    flags |= 1
                if e > lo and r <= prev:
                    flags |= 4
                prev = r
        for e in range(col_ptr[c_lo], col_ptr[c_hi]):
            w = weight_idx[e]
            if w < 1 or w > 15:
                flags |= 2
    return flags


def quantize16(const double[::1] values, int frac_bits, int16_t[::1] out, Py_ssize_t lo,
               Py_ssize_t hi):
    """``out[i] = clip(floor(values[i] * 2**frac_bits + 0.5))`` for i in [lo, hi): the
    fixed-point rounding of :func:`eie_sim.formats.fixed_point.quantize` (finite values)."""
    cdef double scale = <double> (<int64_t> 1 << frac_bits), s
    cdef int64_t t
    cdef Py_ssize_t i
    with nogil:
        for i in range(lo, hi):
            s = values[i] * scale + 0.5
            # clip(floor(s)) without a call to floor(): inside the int16 range, truncate toward
            # zero and step down where that rounded up (negative non-integers).
            if s < -32768.0:
                t = -32768
            elif s >= 32767.0:
                t = 32767
            else:
                t = <int64_t> s
                if t > s:
                    t -= 1
            out[i] = <int16_t> t


def histogram16(const uint16_t[::1] bits, int64_t[::1] hist, Py_ssize_t lo, Py_ssize_t hi):
    """Add the count of every 16-bit pattern among ``bits[lo:hi]`` to ``hist`` (2**16)."""
    cdef Py_ssize_t i
    if hist.shape[0] != 65536:
        raise ValueError("hist must have 2**16 entries")
    with nogil:
        for i in range(lo, hi):
            hist[bits[i]] += 1


def lookup16(const uint8_t[::1] table, const uint16_t[::1] bits, uint8_t[::1] out,
             Py_ssize_t lo, Py_ssize_t hi):
    """``out[i] = table[bits[i]]`` for i in [lo, hi) (``table``: 2**16 entries)."""
    cdef Py_ssize_t i
    if table.shape[0] != 65536:
        raise ValueError("table must have 2**16 entries")
    with nogil:
        for i in range(lo, hi):
            out[i] = table[bits[i]]
