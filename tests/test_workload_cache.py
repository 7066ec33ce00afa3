"""The on-disk cache of built workloads (eie_sim/workloads/cache.py): a loaded workload equals
the built one bit for bit, a damaged entry is rebuilt, and the cache can be turned off."""

from __future__ import annotations

import numpy as np
import pytest

from eie_sim.workloads import get_workload
from eie_sim.workloads.cache import _LAYER_ARRAYS


def same_workload(a, b) -> None:
    assert (a.name, a.chained, a.description, a.info) == (b.name, b.chained, b.description,
                                                           b.info)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert (la.name, la.n_in, la.n_out, la.weight_frac_bits, la.act_frac_bits) == (
            lb.name, lb.n_in, lb.n_out, lb.weight_frac_bits, lb.act_frac_bits)
        for field in _LAYER_ARRAYS:
            x, y = getattr(la, field), getattr(lb, field)
            assert (x is None) == (y is None), field
            if x is not None:
                assert x.dtype == y.dtype, field
                np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name,statistics", [("neuraltalk-we", "uniform"),
                                             ("alexnet", "uniform"),
                                             ("alexnet-fc8", "realistic")])
def test_a_cached_workload_equals_the_built_one(tmp_path, monkeypatch, name, statistics):
    monkeypatch.setenv("EIE_SIM_CACHE_DIR", "off")
    built = get_workload(name, seed=3, statistics=statistics)
    monkeypatch.setenv("EIE_SIM_CACHE_DIR", str(tmp_path))
    first = get_workload(name, seed=3, statistics=statistics)  # builds and stores
    assert len(list(tmp_path.glob("workload-*.bin"))) == 1
    loaded = get_workload(name, seed=3, statistics=statistics)  # loads
    same_workload(first, built)
    same_workload(loaded, built)
    other = get_workload(name, seed=4, statistics=statistics)  # another key, another entry
    assert len(list(tmp_path.glob("workload-*.bin"))) == 2
    assert not np.array_equal(other.layers[0].row_idx[:50], built.layers[0].row_idx[:50])


@pytest.mark.parametrize("damage", ["truncated", "header byte", "array byte", "last byte",
                                    "magic", "empty", "fifo", "directory"])
def test_a_damaged_entry_is_rebuilt(tmp_path, monkeypatch, damage):
    """An entry that is not whole (its CRC-32 covers everything after the magic line) or not a
    regular file is never trusted: the workload is built again and the entry replaced."""
    import os

    monkeypatch.setenv("EIE_SIM_CACHE_DIR", str(tmp_path))
    built = get_workload("neuraltalk-we")
    (entry,) = tmp_path.glob("workload-*.bin")
    good = bytearray(entry.read_bytes())
    bad = bytearray(good)
    if damage == "truncated":
        bad = bad[:100]
    elif damage in ("header byte", "array byte", "last byte", "magic"):
        at = {"header byte": 60, "array byte": len(bad) // 2, "last byte": -1, "magic": 0}
        bad[at[damage]] ^= 1
    elif damage == "empty":
        bad = b""
    entry.unlink()
    if damage == "fifo":
        os.mkfifo(entry)  # opened non-blocking: never waits for a writer
    elif damage == "directory":
        entry.mkdir()
    else:
        entry.write_bytes(bad)
    same_workload(get_workload("neuraltalk-we"), built)
    if damage != "directory":  # a directory cannot be replaced by a file
        assert entry.read_bytes() == good


def test_a_loaded_workload_has_writable_aligned_arrays(tmp_path, monkeypatch):
    monkeypatch.setenv("EIE_SIM_CACHE_DIR", str(tmp_path))
    get_workload("alexnet-fc8")
    loaded = get_workload("alexnet-fc8")
    for a in (loaded.inputs, *(getattr(loaded.layers[0], f) for f in _LAYER_ARRAYS)):
        assert a.flags.writeable and a.flags.aligned


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("EIE_SIM_CACHE_DIR", "off")
    get_workload("neuraltalk-we")
    assert not any(tmp_path.rglob("*.bin"))
