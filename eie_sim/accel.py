"""Optional numba versions of the fast engines' hot loops (``pip install "eie-sim[numba]"``).

The same model as the numpy code, written the direct way:

* :func:`recurrence` steps the PE array's broadcast recurrence of docs/MODEL.md broadcast by
  broadcast (``P_b = max(T_b, max_k S_k(b - C))``, ``S = max(F_prev + 1, P + 2, ready)``,
  ``F = S + W - 1``); the numpy code is
  :func:`eie_sim.engines.pe_array.recurrence.broadcast_recurrence_numpy` (both fast engines);
* :func:`saturating_outputs` adds every broadcast column's products into 16-bit saturating
  accumulators in broadcast order, then the bias (EIE's fast engine,
  :mod:`eie_sim.engines.eie.fast`).

The fast engines use them when numba is importable, unless the environment variable
``EIE_SIM_ACCELERATOR=numpy`` asks for the numpy code. ``tests/test_eie_accel.py`` proves both
paths give identical results. Nothing is imported or compiled until first use; compiled code is
cached on disk by numba (``cache=True``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import SimpleNamespace

import numpy as np

from eie_sim.errors import ConfigError
from eie_sim.formats.fixed_point import INT16_MAX, INT16_MIN

#: Environment variable choosing the fast engines' loops: "auto" (numba if installed) or "numpy".
ACCELERATOR_ENV = "EIE_SIM_ACCELERATOR"
ACCELERATORS = ("auto", "numpy")


def kernels() -> SimpleNamespace | None:
    """The compiled kernels, or None when numba is not installed or the numpy code is asked for.

    Raises ConfigError for an unknown ``EIE_SIM_ACCELERATOR`` value.
    """
    choice = os.environ.get(ACCELERATOR_ENV, "auto")
    if choice not in ACCELERATORS:
        raise ConfigError(
            f"environment variable {ACCELERATOR_ENV}={choice!r} is not allowed; "
            f"use one of: {', '.join(ACCELERATORS)}"
        )
    return None if choice == "numpy" else _compiled()


@contextmanager
def using(choice: str) -> Iterator[None]:
    """Run a block with ``EIE_SIM_ACCELERATOR`` set to ``choice`` ("auto" or "numpy")."""
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
        recurrence=jit(_recurrence_loop), saturating_outputs=jit(_saturating_outputs_loop)
    )


def _recurrence_loop(work, adv, capacity, push_to_issue, ready, has_ready):
    passes, n, b_total = work.shape
    push = np.empty((passes, b_total), dtype=np.int64)
    first = np.empty((passes, n, b_total), dtype=np.int64)
    last = np.empty((passes, n, b_total), dtype=np.int64)
    start_max = np.empty(b_total, dtype=np.int64)  # max_k S_k(b): the gate of b + C
    free = np.empty(n, dtype=np.int64)  # F_k(b - 1) + 1
    for p in range(passes):
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
    return push, first, last


def _saturating_outputs_loop(col_ptr, row_idx, weight_idx, columns, table, bias_rows, bias, n_out):
    acc = np.zeros(n_out, dtype=np.int64)
    for i in range(columns.size):
        c = columns[i]
        for e in range(col_ptr[c], col_ptr[c + 1]):
            r = row_idx[e]
            v = acc[r] + table[i, weight_idx[e]]
            acc[r] = INT16_MIN if v < INT16_MIN else INT16_MAX if v > INT16_MAX else v
    for j in range(bias_rows.size):
        r = bias_rows[j]
        v = acc[r] + bias[j]
        acc[r] = INT16_MIN if v < INT16_MIN else INT16_MAX if v > INT16_MAX else v
    return acc.astype(np.int16)


def recurrence(work, adv, capacity: int, push_to_issue: int, ready):
    """``(push, first, last)`` of
    :func:`eie_sim.engines.pe_array.recurrence.broadcast_recurrence`."""
    k = _compiled()
    has_ready = ready is not None
    ready = ready if has_ready else np.zeros((1, 1), dtype=np.int64)
    return k.recurrence(
        np.ascontiguousarray(work, dtype=np.int64), np.ascontiguousarray(adv, dtype=np.int64),
        capacity, push_to_issue, np.ascontiguousarray(ready, dtype=np.int64), has_ready,
    )


def saturating_outputs(layer, weight_cols, table, bias_rows, bias) -> np.ndarray:
    """Output vector: ``table[i, idx]`` of every entry of column ``weight_cols[i]`` added in
    order into saturating int16 accumulators, then ``bias`` at ``bias_rows``."""
    return _compiled().saturating_outputs(
        layer.col_ptr, layer.row_idx, layer.weight_idx, weight_cols,
        np.ascontiguousarray(table, dtype=np.int64), bias_rows, bias.astype(np.int64),
        layer.n_out,
    )
