"""What engines keep with a layer (eie_sim.engines.layer_cache): made once per (layer, key),
the most recent few per layer, released with the layer; both EIE and the tensor core reuse
theirs across runs and engines with the same results."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from eie_sim import simulate
from eie_sim.config import EIEConfig, STCConfig
from eie_sim.engines.eie import common as eie_common
from eie_sim.engines.layer_cache import LayerCache
from eie_sim.engines.stc import model as stc_model
from eie_sim.layer import QuantizedLayer
from eie_sim.workloads import LayerSpec, single_layer


class Layer:  # weak-referenceable and hashable by identity, like QuantizedLayer
    pass


def test_built_once_per_key_most_recent_kept_and_released_with_the_layer():
    cache: LayerCache[list] = LayerCache(2)
    layer, other = Layer(), Layer()
    builds = []

    def build(tag):
        return lambda: builds.append(tag) or [tag]

    a = cache.get(layer, "a", build("a"))
    assert cache.get(layer, "a", build("a again")) is a and builds == ["a"]
    cache.get(layer, "b", build("b"))
    cache.get(layer, "a", build("a"))  # "a" used last: "b" goes first
    cache.get(layer, "c", build("c"))
    assert builds == ["a", "b", "c"]
    cache.get(layer, "a", build("a"))
    cache.get(layer, "b", build("b again"))
    assert builds == ["a", "b", "c", "b again"]
    cache.get(other, "a", build("other a"))  # per layer
    assert builds[-1] == "other a"
    del layer
    gc.collect()
    assert len(cache._kept) == 1  # the layer's entries went with it


def test_an_error_while_building_keeps_nothing():
    cache: LayerCache[int] = LayerCache(1)
    layer = Layer()

    def fail():
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        cache.get(layer, "k", fail)
    assert cache.get(layer, "k", lambda: 7) == 7
    with pytest.raises(ValueError, match="per_layer"):
        LayerCache(0)


def _fresh(layer: QuantizedLayer) -> QuantizedLayer:
    import dataclasses

    return dataclasses.replace(layer)


@pytest.mark.parametrize("config", [EIEConfig(num_pes=16), STCConfig.preset("a100")],
                         ids=["eie", "stc"])
def test_engines_reuse_what_they_derived_from_a_layer_with_the_same_results(config):
    wl = single_layer(LayerSpec("small", 600, 300, 0.2, 0.5, seed=3))
    layer = _fresh(wl.layers[0])
    cache = eie_common._encodings if isinstance(config, EIEConfig) else stc_model._adapted
    first = simulate(config, layer, inputs=wl.inputs, engine="fast")
    (kept,) = cache._kept[layer].values()
    des = simulate(config, layer, inputs=wl.inputs, engine="des")
    slower = simulate(config.replace(clock_mhz=config.clock_mhz / 2), layer, inputs=wl.inputs)
    assert list(cache._kept[layer].values()) == [kept]  # the same object, not rebuilt
    assert slower.time_us > first.time_us
    cold = simulate(config, _fresh(layer), inputs=wl.inputs, engine="fast")
    for r in (des, cold):
        assert r.layers[0].counts == first.layers[0].counts
        assert r.layers[0].cycles == first.layers[0].cycles
        np.testing.assert_array_equal(r.layers[0].outputs, first.layers[0].outputs)
        assert r.outputs_match_reference is True
