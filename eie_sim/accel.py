"""Optional numba versions of the fast path's hot loops (``pip install "eie-sim[numba]"``).

The same model as the numpy code, written the direct way:

* :func:`recurrence` steps the PE array's broadcast recurrence of docs/MODEL.md broadcast by
  broadcast (``P_b = max(T_b, max_k S_k(b - C))``, ``S = max(F_prev + 1, P + 2, ready)``,
  ``F = S + W - 1``); the numpy code is
  :func:`eie_sim.engines.pe_array.recurrence.broadcast_recurrence_numpy` (both fast engines);
* :func:`saturating_outputs` adds every broadcast column's products into 16-bit saturating
  accumulators in broadcast order, then the bias (EIE's fast engine,
  :mod:`eie_sim.engines.eie.fast`);
* :func:`reference_columns` is the golden model's rule entry by entry (product, round half up,
  saturating add; :mod:`eie_sim.reference`), written without the product table;
* :func:`slice_summaries` walks a CSC matrix once and returns, per PE, pass and column slice of
  EIE's interleaved CSC, the real and padding entries and the first and last local row (the
  numpy code is a stable radix sort in :mod:`eie_sim.formats.interleaved_csc`).

Given enough work (:data:`PARALLEL_ENTRIES` per thread) the kernels run on up to one thread per
core: the slice summaries by column ranges, the output and reference accumulation by output-row
ranges (rows are independent, each row still adds its terms in broadcast order), the recurrence
by passes (each pass starts from empty queues).

Which code runs is chosen per call by :func:`kernels` from ``EIE_SIM_ACCELERATOR``:

* ``numpy``: always the numpy code;
* ``numba``: always the kernels (a ConfigError if numba is not installed);
* ``auto`` (default): the kernels once they pay for themselves. Importing numba and loading the
  cached kernels costs about half a second, which the kernels win back only over tens of
  millions of entries, so ``auto`` keeps to numpy until this process has handed the numpy code
  :data:`BREAK_EVEN_ENTRIES` entries (counting the call at hand), or numba is already imported,
  or :func:`expect` announced that much work at once (``simulate`` announces the workload's
  non-zeros); from then on it keeps the kernels.
  A one-off command-line run on an ordinary layer never loads numba; a large layer, a sweep
  worker or a notebook that simulates again and again switches to the kernels.

``tests/test_eie_accel.py`` proves both paths give identical results. Nothing is imported or
compiled until first use; compiled code is cached on disk by numba (``cache=True``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import SimpleNamespace

import numpy as np

from eie_sim.errors import ConfigError
from eie_sim.formats.fixed_point import INT16_MAX, INT16_MIN

#: Environment variable choosing the fast path's loops: "auto", "numba" or "numpy".
ACCELERATOR_ENV = "EIE_SIM_ACCELERATOR"
ACCELERATORS = ("auto", "numba", "numpy")

#: Entries (non-zero weights walked by the loops above) the numpy code handles in one process
#: before ``auto`` loads numba: numba's import and kernel loading (~0.5 s on the 2-core
#: reference machine) over the ~60-100 ns per entry the kernels save in the encoding and the
#: output accumulation (benchmarks/bench_fast_path.py measures both paths).
BREAK_EVEN_ENTRIES = 5_000_000

_numpy_entries = 0  # entries handed to the numpy code so far in this process (``auto`` only)


def wants_numba(work: int = 0) -> bool:
    """Whether compiled code should run for ``work`` more entries (the policy above; counts the
    work toward ``auto``'s break-even when it stays in numpy).

    Raises ConfigError for an unknown ``EIE_SIM_ACCELERATOR`` value, or ``numba`` without numba.
    """
    global _numpy_entries
    choice = os.environ.get(ACCELERATOR_ENV, "auto")
    if choice not in ACCELERATORS:
        raise ConfigError(
            f"environment variable {ACCELERATOR_ENV}={choice!r} is not allowed; "
            f"use one of: {', '.join(ACCELERATORS)}"
        )
    if choice == "numpy":
        return False
    if choice == "numba":
        if _compiled() is None:
            raise ConfigError(f"{ACCELERATOR_ENV}=numba but numba is not installed; "
                              'allowed: pip install "eie-sim[numba]", or auto / numpy')
        return True
    if ("numba" in sys.modules or _compiled.cache_info().currsize
            or _numpy_entries + work >= BREAK_EVEN_ENTRIES) and _compiled() is not None:
        return True
    _numpy_entries += work
    return False


def kernels(work: int = 0) -> SimpleNamespace | None:
    """The compiled kernels when :func:`wants_numba` says so for ``work`` entries, else None
    (the numpy code runs)."""
    return _compiled() if wants_numba(work) else None


def expect(work: int) -> None:
    """Announce ``work`` entries about to be processed (e.g. a whole workload's non-zeros):
    ``auto`` loads the kernels now if that alone reaches the break-even, so a large run does not
    start in numpy."""
    if os.environ.get(ACCELERATOR_ENV, "auto") == "auto" and work >= BREAK_EVEN_ENTRIES:
        _compiled()


@contextmanager
def using(choice: str) -> Iterator[None]:
    """Run a block with ``EIE_SIM_ACCELERATOR`` set to ``choice`` (one of ACCELERATORS)."""
    old = os.environ.get(ACCELERATOR_ENV)
    os.environ[ACCELERATOR_ENV] = choice
    try:
        yield
    finally:
        if old is None:
            del os.environ[ACCELERATOR_ENV]
        else:
            os.environ[ACCELERATOR_ENV] = old


@cache
def _compiled() -> SimpleNamespace | None:
    try:
        import numba
    except ImportError:
        return None
    jit = numba.njit(cache=True, nogil=True)
    return SimpleNamespace(
        recurrence=jit(_recurrence_loop), saturating_outputs=jit(_saturating_outputs_loop),
        slice_summaries=jit(_slice_summaries_loop),
        reference_columns=jit(_reference_columns_loop),
    )


def _recurrence_loop(work, adv, capacity, push_to_issue, ready, has_ready, push, first, last,
                     p_lo, p_hi):
    # Passes [p_lo, p_hi) (passes are independent: threads take disjoint ranges).
    _, n, b_total = work.shape
    start_max = np.empty(b_total, dtype=np.int64)  # max_k S_k(b): the gate of b + C
    free = np.empty(n, dtype=np.int64)  # F_k(b - 1) + 1
    for p in range(p_lo, p_hi):
        free[:] = 0
        prev_push = 0
        for b in range(b_total):
            t = prev_push + 1 + adv[b]
            if b >= capacity and start_max[b - capacity] > t:
                t = start_max[b - capacity]
            push[p, b] = t
            earliest = t + push_to_issue
            if has_ready and ready[p, b] > earliest:
                earliest = ready[p, b]
            most = earliest
            for k in range(n):
                s = free[k] if free[k] > earliest else earliest
                first[p, k, b] = s
                free[k] = s + work[p, k, b]
                last[p, k, b] = free[k] - 1
                if s > most:
                    most = s
            start_max[b] = most
            prev_push = t


def _saturating_outputs_loop(col_ptr, row_idx, weight_idx, columns, table, acc, r_lo, r_hi):
    # Rows [r_lo, r_hi) of acc (threads take disjoint row ranges: rows are independent).
    for i in range(columns.size):
        c = columns[i]
        lo, hi = col_ptr[c], col_ptr[c + 1]
        if r_lo > 0:  # rows ascend within a column: the range's entries are a run of it
            lo += np.searchsorted(row_idx[lo:hi], r_lo)
        if r_hi < acc.size:
            hi = lo + np.searchsorted(row_idx[lo:hi], r_hi)
        for e in range(lo, hi):
            r = row_idx[e]
            v = acc[r] + table[i, weight_idx[e]]
            acc[r] = INT16_MIN if v < INT16_MIN else INT16_MAX if v > INT16_MAX else v


def _reference_columns_loop(col_ptr, row_idx, weight_idx, codebook, columns, x, frac_bits, acc,
                            r_lo, r_hi):
    # The golden model's rule entry by entry, in broadcast order: product, round half up,
    # saturating add (no product table, unlike _saturating_outputs_loop); rows [r_lo, r_hi).
    half = (1 << frac_bits) >> 1
    for i in range(columns.size):
        c = columns[i]
        a = x[c]
        lo, hi = col_ptr[c], col_ptr[c + 1]
        if r_lo > 0:
            lo += np.searchsorted(row_idx[lo:hi], r_lo)
        if r_hi < acc.size:
            hi = lo + np.searchsorted(row_idx[lo:hi], r_hi)
        for e in range(lo, hi):
            r = row_idx[e]
            v = acc[r] + ((codebook[weight_idx[e]] * a + half) >> frac_bits)
            acc[r] = INT16_MIN if v < INT16_MIN else INT16_MAX if v > INT16_MAX else v


def _slice_summaries_loop(col_ptr, row_idx, n, passes, rows_per_pass, bits, n_shift, entries,
                          padding, first, last, c_lo, c_hi, c_base):
    # Columns [c_lo, c_hi), stored as columns c_base + c of the (N x passes, columns) outputs.
    # Rows ascend within a column, so each pass's entries are a contiguous run of it; a run's
    # slices are summed in per-PE buffers (in L1) and written out once. A row splits into PE and
    # local row by shift and mask when N is a power of two (``n_shift >= 0``), else by division
    # (~3x slower).
    mask = (1 << n_shift) - 1 if n_shift >= 0 else 0  # known >= 0: no index wraparound
    count = np.zeros(n, np.int32)
    pad_count = np.zeros(n, np.int32)
    first_row = np.full(n, -1, np.int32)
    last_row = np.full(n, -1, np.int32)
    for c in range(c_lo, c_hi):
        lo, hi = col_ptr[c], col_ptr[c + 1]
        col = c + c_base
        for p in range(passes):
            end = hi if p == passes - 1 else lo + np.searchsorted(
                row_idx[lo:hi], (p + 1) * rows_per_pass * n)
            base = p * rows_per_pass
            if n_shift >= 0:
                for e in range(lo, end):
                    row = row_idx[e]
                    k = row & mask
                    lrow = (row >> n_shift) - base
                    prev = last_row[k]  # the slice's previous entry (-1: none yet)
                    pad = (lrow - prev - 1) >> bits
                    pad_count[k] += pad
                    count[k] += 1 + pad
                    first_row[k] = lrow if prev < 0 else first_row[k]
                    last_row[k] = lrow
            else:
                for e in range(lo, end):
                    row = row_idx[e]
                    local = row // n
                    k = row - local * n
                    lrow = local - base
                    prev = last_row[k]
                    pad = (lrow - prev - 1) >> bits
                    pad_count[k] += pad
                    count[k] += 1 + pad
                    first_row[k] = lrow if prev < 0 else first_row[k]
                    last_row[k] = lrow
            lo = end
            for k in range(n):
                g = k * passes + p
                entries[g, col] = count[k]
                padding[g, col] = pad_count[k]
                first[g, col] = first_row[k]
                last[g, col] = last_row[k]
                count[k] = 0
                pad_count[k] = 0
                first_row[k] = -1
                last_row[k] = -1


#: Entries of work per thread at least: below twice this one thread does all (starting a thread
#: costs more than it saves); the kernels split their work between up to one thread per core.
PARALLEL_ENTRIES = 1 << 18


def _workers(work: int) -> int:
    """Threads for ``work`` entries: one per :data:`PARALLEL_ENTRIES`, at most one per core."""
    return min(_cores(), max(1, work // PARALLEL_ENTRIES))


def _column_parts(col_ptr: np.ndarray, total: int) -> list[tuple[int, int]]:
    """Column ranges with about equal entries, one per available core (one range when small)."""
    workers = _workers(total)
    if workers == 1:
        return [(0, col_ptr.size - 1)]
    cuts = np.searchsorted(col_ptr, np.linspace(0, total, workers + 1)[1:-1])
    bounds = [0, *sorted(set(int(c) for c in cuts)), col_ptr.size - 1]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


@cache
def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _threads():
    """This process's kernel threads (a child forked by a sweep's pool gets its own: the parent's
    threads do not exist there, and their pool would wait for them forever)."""
    return _thread_pool(os.getpid())


@cache
def _thread_pool(pid: int):
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix="eie-sim-kernel")


def slice_summaries(col_ptr, row_idx, n: int, passes: int, rows_per_pass: int, bits: int,
                    extra_rows=None):
    """``(entries, padding, first_row, last_row)`` per (PE x pass, column) slice: int32 arrays
    of shape ``(N * passes, n_cols)`` (entries = real + padding; see
    :func:`eie_sim.formats.interleaved_csc.encode`); ``extra_rows`` (ascending) is one more
    column after the matrix's (the bias)."""
    n_main = col_ptr.size - 1
    shape = (n * passes, n_main + (extra_rows is not None))
    entries, padding, first, last = (np.empty(shape, np.int32) for _ in range(4))
    kernel = _compiled().slice_summaries
    n_shift = n.bit_length() - 1 if n & (n - 1) == 0 else -1
    common = (n, passes, rows_per_pass, bits, n_shift, entries, padding, first, last)
    col_ptr = np.ascontiguousarray(col_ptr, dtype=np.int64)
    rows = np.ascontiguousarray(row_idx, dtype=np.int32)
    # Columns are independent and the kernel releases the GIL: split them between threads.
    parts = _column_parts(col_ptr, rows.size)
    if len(parts) == 1:
        kernel(col_ptr, rows, *common, 0, n_main, 0)
    else:
        list(_threads().map(lambda part: kernel(col_ptr, rows, *common, *part, 0), parts))
    if extra_rows is not None:
        extra = np.ascontiguousarray(extra_rows, dtype=np.int32)
        kernel(np.array([0, extra.size], dtype=np.int64), extra, *common, 0, 1, n_main)
    return entries, padding, first, last


def recurrence(work, adv, capacity: int, push_to_issue: int, ready):
    """``(push, first, last)`` of
    :func:`eie_sim.engines.pe_array.recurrence.broadcast_recurrence`."""
    kernel = _compiled().recurrence
    has_ready = ready is not None
    ready = ready if has_ready else np.zeros((1, 1), dtype=np.int64)
    passes, n, b_total = work.shape
    push = np.empty((passes, b_total), dtype=np.int64)
    first = np.empty((passes, n, b_total), dtype=np.int64)
    last = np.empty((passes, n, b_total), dtype=np.int64)
    args = (np.ascontiguousarray(work, dtype=np.int64), np.ascontiguousarray(adv, dtype=np.int64),
            capacity, push_to_issue, np.ascontiguousarray(ready, dtype=np.int64), has_ready,
            push, first, last)
    _in_parts(lambda p_lo, p_hi: kernel(*args, p_lo, p_hi), passes, work.size)
    return push, first, last


def _in_parts(kernel, size: int, work: int) -> None:
    """``kernel(lo, hi)`` over ranges of ``[0, size)`` (independent rows or passes), one per
    available core when ``work`` entries are worth the threads (the kernels release the GIL)."""
    workers = min(_workers(work), max(1, size))
    cuts = [size * w // workers for w in range(workers + 1)]
    parts = list(zip(cuts[:-1], cuts[1:], strict=True))
    if len(parts) == 1:
        kernel(*parts[0])
    else:
        list(_threads().map(lambda part: kernel(*part), parts))


def reference_columns(layer, columns, x, acc, terms: int) -> None:
    """Add the broadcast ``columns`` of ``layer`` (``terms`` entries) on activations ``x``
    (int64) into the saturating accumulators ``acc`` (int64), entry by entry in order (the
    golden model's rule, :mod:`eie_sim.reference`)."""
    kernel = _compiled().reference_columns
    args = (layer.col_ptr, layer.row_idx, layer.weight_idx, layer.codebook.astype(np.int64),
            np.ascontiguousarray(columns, dtype=np.int64), x, layer.weight_frac_bits, acc)
    _in_parts(lambda r_lo, r_hi: kernel(*args, r_lo, r_hi), acc.size, terms)


def saturating_outputs(layer, weight_cols, table, bias_rows, bias, terms: int) -> np.ndarray:
    """Output vector: ``table[i, idx]`` of every entry of column ``weight_cols[i]`` (``terms``
    entries) added in order into saturating int16 accumulators, then ``bias`` at
    ``bias_rows``."""
    kernel = _compiled().saturating_outputs
    acc = np.zeros(layer.n_out, dtype=np.int64)
    args = (layer.col_ptr, layer.row_idx, layer.weight_idx, weight_cols,
            np.ascontiguousarray(table, dtype=np.int64), acc)
    _in_parts(lambda r_lo, r_hi: kernel(*args, r_lo, r_hi), acc.size, terms)
    acc[bias_rows] = np.clip(acc[bias_rows] + bias, INT16_MIN, INT16_MAX)  # rows are distinct
    return acc.astype(np.int16)
