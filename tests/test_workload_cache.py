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
    assert len(list(tmp_path.glob("workload-*.npz"))) == 1
    loaded = get_workload(name, seed=3, statistics=statistics)  # loads
    same_workload(first, built)
    same_workload(loaded, built)
    other = get_workload(name, seed=4, statistics=statistics)  # another key, another entry
    assert len(list(tmp_path.glob("workload-*.npz"))) == 2
    assert not np.array_equal(other.layers[0].row_idx[:50], built.layers[0].row_idx[:50])


def test_a_damaged_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("EIE_SIM_CACHE_DIR", str(tmp_path))
    built = get_workload("neuraltalk-we")
    (entry,) = tmp_path.glob("workload-*.npz")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    same_workload(get_workload("neuraltalk-we"), built)


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("EIE_SIM_CACHE_DIR", "off")
    get_workload("neuraltalk-we")
    assert not any(tmp_path.rglob("*.npz"))
