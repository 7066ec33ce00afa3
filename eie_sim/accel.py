"""The fast path's compiled loops (:mod:`eie_sim._loops`, built from C when the package is
installed) and the rule that splits them between threads.

The same model as the numpy code, written the direct way:

* :func:`recurrence` steps the PE array's broadcast recurrence of docs/MODEL.md broadcast by
  broadcast (``P_b = max(T_b, max_k S_k(b - C))``, ``S = max(F_prev + 1, P + 2, ready)``,
  ``F = S + W - 1``) and sums each PE's stall on the way; the numpy code is
  :func:`eie_sim.engines.pe_array.recurrence.broadcast_recurrence_numpy` (both fast engines);
* :func:`slice_counts` walks each PE's broadcast column slices in processing order and counts
  the entries looked up, the padding, the sparse-matrix SRAM rows read and the bypasses (EIE's
  fast engine; the numpy code is :func:`eie_sim.engines.eie.fast._slice_counts`);
* :func:`saturating_outputs` adds every broadcast column's products into 16-bit saturating
  accumulators in broadcast order, then the bias (EIE's fast engine,
  :mod:`eie_sim.engines.eie.fast`);
* :func:`reference_columns` is the golden model's rule entry by entry (product, round half up,
  saturating add; :mod:`eie_sim.reference`), written without the product table;
* :func:`rounded_spmv` is ESE's SpMV: every product rounded half up, summed exactly, all
  utterances at once (the fast engine on its per-PE entries, :mod:`eie_sim.engines.ese.fast`,
  and the reference on the CSC matrix, :meth:`eie_sim.workloads.lstm.SparseMatrix.matvec`);
* :func:`slice_summaries` walks a CSC matrix once and returns, per PE, pass and column slice of
  EIE's interleaved CSC, the real and padding entries and the first and last local row (the
  numpy code is a stable radix sort in :mod:`eie_sim.formats.interleaved_csc`);
* the tensor core's GEMM (:mod:`eie_sim.engines.stc.kernels`), a layer's entry checks and
  fixed-point rounding (:mod:`eie_sim.layer`) and k-means' histogram and look-up
  (:mod:`eie_sim.compress.weight_sharing`) use the same module through :func:`in_parts` and
  :func:`by_columns`.

Given enough work (:data:`PARALLEL_ENTRIES` per thread) the loops run on up to one thread per
core (they release the interpreter lock): the slice summaries by column ranges, the output and
reference accumulation by output-row ranges (rows are independent, each row still adds its
terms in broadcast order), the recurrence by passes (each pass starts from empty queues), the
slice counts by PEs, ESE's SpMV by utterances, the GEMM by tasks (blocks of output rows and
columns).

Which code runs is chosen per call by :func:`kernels` from ``EIE_SIM_ACCELERATOR``:

* ``auto`` (default): the compiled loops when they were built (installing the package compiles
  them with the machine's C compiler; without one it installs with the numpy code only);
* ``compiled``: the compiled loops; a ConfigError when they were not built;
* ``numpy``: always the numpy code.

The compiled module loads in about a millisecond, so even a one-off run of a small layer uses
it. ``tests/test_eie_accel.py`` and ``tests/test_stc_kernels.py`` prove both paths give
identical results; ``eie-sim --version`` says which code runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import ModuleType

import numpy as np

from eie_sim.errors import ConfigError
from eie_sim.formats.fixed_point import INT16_MAX, INT16_MIN

#: Environment variable choosing the fast path's loops: "auto", "compiled" or "numpy".
ACCELERATOR_ENV = "EIE_SIM_ACCELERATOR"
ACCELERATORS = ("auto", "compiled", "numpy")


def kernels() -> ModuleType | None:
    """The compiled loops (:mod:`eie_sim._loops`) when ``EIE_SIM_ACCELERATOR`` lets them run and
    they were built, else None (the numpy code runs).

    Raises ConfigError for an unknown ``EIE_SIM_ACCELERATOR`` value, or ``compiled`` when the
    loops were not built.
    """
    choice = os.environ.get(ACCELERATOR_ENV, "auto")
    if choice not in ACCELERATORS:
        raise ConfigError(
            f"environment variable {ACCELERATOR_ENV}={choice!r} is not allowed; "
            f"use one of: {', '.join(ACCELERATORS)}"
        )
    if choice == "numpy":
        return None
    loops = _compiled()
    if loops is None and choice == "compiled":
        raise ConfigError(f"{ACCELERATOR_ENV}=compiled but the compiled loops were not built "
                          "(install the package where a C compiler is available); "
                          "allowed: auto or numpy")
    return loops


def description() -> str:
    """Which code runs the fast path's loops, in words (``--version``, benchmarks)."""
    if kernels() is not None:
        return "compiled loops"
    if _compiled() is None:
        return "numpy code, the compiled loops were not built"
    return f"numpy code, {ACCELERATOR_ENV}=numpy"


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
def _compiled() -> ModuleType | None:
    try:
        from eie_sim import _loops
    except ImportError:
        return None
    return _loops


#: Entries of work per thread at least: below twice this one thread does all (starting a thread
#: costs more than it saves); the kernels split their work between up to one thread per core.
PARALLEL_ENTRIES = 1 << 18


def _workers(work: int) -> int:
    """Threads for ``work`` entries: one per :data:`PARALLEL_ENTRIES`, at most one per core."""
    return min(available_cores(), max(1, work // PARALLEL_ENTRIES))


def _column_parts(col_ptr: np.ndarray) -> list[tuple[int, int]]:
    """Column ranges with about equal entries, one per available core (one range when small)."""
    total = int(col_ptr[-1])
    workers = _workers(total)
    if workers == 1:
        return [(0, col_ptr.size - 1)]
    cuts = np.searchsorted(col_ptr, np.linspace(0, total, workers + 1)[1:-1])
    bounds = [0, *sorted(set(int(c) for c in cuts)), col_ptr.size - 1]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), for threads and worker processes."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _run_parts(kernel, parts: list[tuple[int, int]]) -> list:
    """``[kernel(*part) for part in parts]``, the first part on this thread and each other one on
    a thread of its own (started here, so a process forked by a sweep's pool has no threads to
    wait for); the first exception is raised once all parts have finished."""
    if len(parts) == 1:
        return [kernel(*parts[0])]
    results: list = [None] * len(parts)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = kernel(*parts[i])
        except BaseException as err:  # re-raised on the calling thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,), name="eie-sim-kernel")
               for i in range(1, len(parts))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


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
    by_columns(lambda c_lo, c_hi: kernel(col_ptr, rows, *common, c_lo, c_hi, 0), col_ptr)
    if extra_rows is not None:
        extra = np.ascontiguousarray(extra_rows, dtype=np.int32)
        kernel(np.array([0, extra.size], dtype=np.int64), extra, *common, 0, 1, n_main)
    return entries, padding, first, last


def by_columns(kernel, col_ptr: np.ndarray) -> list:
    """``[kernel(c_lo, c_hi), ...]`` over column ranges of a CSC matrix with about equal
    entries, one per available core when its entries are worth the threads (columns are
    independent; the loops release the interpreter lock)."""
    return _run_parts(kernel, _column_parts(col_ptr))


def recurrence(work, adv, capacity: int, push_to_issue: int, ready):
    """``(push, first, last, held)`` of
    :func:`eie_sim.engines.pe_array.recurrence.broadcast_recurrence`."""
    kernel = _compiled().recurrence
    has_ready = ready is not None
    ready = ready if has_ready else np.zeros((1, 1), dtype=np.int64)
    passes, n, b_total = work.shape
    push = np.empty((passes, b_total), dtype=np.int64)
    first = np.empty((passes, n, b_total), dtype=np.int64)
    last = np.empty((passes, n, b_total), dtype=np.int64)
    held = np.empty((passes, n), dtype=np.int64)
    args = (np.ascontiguousarray(work, dtype=np.int64), np.ascontiguousarray(adv, dtype=np.int64),
            capacity, push_to_issue, np.ascontiguousarray(ready, dtype=np.int64), has_ready,
            push, first, last, held)
    in_parts(lambda p_lo, p_hi: kernel(*args, p_lo, p_hi), passes, work.size)
    return push, first, last, held


def slice_counts(enc, columns, entries_per_row: int, first, last) -> tuple[int, int, int, int]:
    """``(entries looked up, padding entries, sparse-matrix SRAM rows read, bypasses)`` of
    :func:`eie_sim.engines.eie.fast._slice_counts`, PEs split between threads."""
    kernel = _compiled().slice_counts
    n = enc.num_pes
    out = np.zeros((n, 4), dtype=np.int64)
    c64, c32 = (lambda a: np.ascontiguousarray(a, dtype=np.int64),
                lambda a: np.ascontiguousarray(a, dtype=np.int32))  # no copy when they are
    args = (c64(enc.ptr), c64(columns), enc.passes, enc.n_cols, c32(enc.slice_padding),
            c32(enc.slice_first_row), c32(enc.slice_last_row), enc.max_run, entries_per_row,
            c64(first), c64(last), out)
    in_parts(lambda k_lo, k_hi: kernel(*args, k_lo, k_hi), n, first.size)
    lookups, padding, reads, bypass = (int(v) for v in out.sum(axis=0))
    return lookups, padding, reads, bypass


def in_parts(kernel, size: int, work: int) -> None:
    """``kernel(lo, hi)`` over ranges of ``[0, size)`` (independent rows, passes or tasks), one
    per available core when ``work`` entries are worth the threads (the loops release the
    interpreter lock)."""
    workers = min(_workers(work), max(1, size))
    cuts = [size * w // workers for w in range(workers + 1)]
    _run_parts(kernel, list(zip(cuts[:-1], cuts[1:], strict=True)))


def reference_columns(layer, columns, x, acc, terms: int) -> None:
    """Add the broadcast ``columns`` of ``layer`` (``terms`` entries) on activations ``x``
    (int64) into the saturating accumulators ``acc`` (int64), entry by entry in order (the
    golden model's rule, :mod:`eie_sim.reference`)."""
    kernel = _compiled().reference_columns
    args = (*_csc(layer), layer.codebook.astype(np.int64),
            np.ascontiguousarray(columns, dtype=np.int64), x, layer.weight_frac_bits, acc)
    in_parts(lambda r_lo, r_hi: kernel(*args, r_lo, r_hi), acc.size, terms)


def saturating_outputs(layer, weight_cols, table, bias_rows, bias, terms: int) -> np.ndarray:
    """Output vector: ``table[i, idx]`` of every entry of column ``weight_cols[i]`` (``terms``
    entries) added in order into saturating int16 accumulators, then ``bias`` at
    ``bias_rows``."""
    kernel = _compiled().saturating_outputs
    acc = np.zeros(layer.n_out, dtype=np.int64)
    args = (*_csc(layer), np.ascontiguousarray(weight_cols, dtype=np.int64),
            np.ascontiguousarray(table, dtype=np.int64), acc)
    in_parts(lambda r_lo, r_hi: kernel(*args, r_lo, r_hi), acc.size, terms)
    acc[bias_rows] = np.clip(acc[bias_rows] + bias, INT16_MIN, INT16_MAX)  # rows are distinct
    return acc.astype(np.int16)


def rounded_spmv(rows, cols, vals, a, frac_bits: int, n_rows: int) -> np.ndarray:
    """``out[r, b] = sum over entries e of row r of round_shift(vals[e] * a[cols[e], b],
    frac_bits)``, int64 of shape ``(n_rows, batch)`` (``a``: int16, ``(n_cols, batch)``; rows
    and columns in range); batch columns split between threads."""
    kernel = _compiled().rounded_products
    a = np.ascontiguousarray(a, dtype=np.int16)
    out = np.zeros((n_rows, a.shape[1]), dtype=np.int64)
    args = (np.ascontiguousarray(rows, dtype=np.int64), np.ascontiguousarray(cols, dtype=np.int64),
            np.ascontiguousarray(vals, dtype=np.int16), a, frac_bits, out)
    in_parts(lambda b_lo, b_hi: kernel(*args, b_lo, b_hi), a.shape[1], len(args[0]) * a.shape[1])
    return out


def _csc(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(col_ptr, row_idx, weight_idx)`` of a layer in the loops' types (int64, int32, uint8;
    no copy when they already are)."""
    return (np.ascontiguousarray(layer.col_ptr, dtype=np.int64),
            np.ascontiguousarray(layer.row_idx, dtype=np.int32),
            np.ascontiguousarray(layer.weight_idx, dtype=np.uint8))
