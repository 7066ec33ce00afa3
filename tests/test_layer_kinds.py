"""Layer kinds at the front door: every registered architecture declares the kinds of layer it
runs (``Accelerator.layer_kinds``), and :func:`eie_sim.simulate` refuses any other kind with one
line naming the kind and the architectures that run it (the CLI: exit 2 with that line)."""

from __future__ import annotations

import numpy as np
import pytest

from eie_sim import registry
from eie_sim.cli import main
from eie_sim.errors import WorkloadError
from eie_sim.layer import QuantizedLayer
from eie_sim.simulate import simulate
from eie_sim.workloads import Workload
from eie_sim.workloads.lstm import LSTMSpec, lstm_workload

#: The declared acceptance table; a change to a record must change this on purpose.
EXPECTED = {"eie": ("fc",), "stc": ("fc",), "dense-tc": ("fc",), "dense": ("fc",),
            "ese": ("lstm",)}


def fc_workload() -> Workload:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 16)) * (rng.random((8, 16)) < 0.5)
    layer = QuantizedLayer.from_dense("tiny-fc", w, rng.normal(size=8))
    return Workload(name="tiny-fc", layers=(layer,),
                    inputs=rng.integers(0, 256, 16).astype(np.int16))


def lstm_small() -> Workload:
    return lstm_workload(LSTMSpec(name="tiny-lstm", input_size=4, hidden=8, projection=4,
                                  steps=2, utterances=2, density=0.5, prune_pes=2))


WORKLOADS = {"fc": fc_workload, "lstm": lstm_small}


def test_every_arch_declares_known_kinds_and_every_kind_has_a_workload_here():
    assert set(WORKLOADS) == set(registry.LAYER_KINDS)
    assert {a.name: a.layer_kinds for a in registry.ACCELERATORS.values()} == EXPECTED
    for kind, make in WORKLOADS.items():
        assert all(layer.kind == kind for layer in make().layers)
    assert registry.archs_for_kind("lstm") == ["ese"]
    assert registry.archs_for_kind("fc") == ["eie", "stc", "dense-tc", "dense"]


def _config(arch: str):
    acc = registry.get(arch)
    cfg = acc.default_config(next(iter(acc.presets), None))
    if arch == "ese":
        cfg = cfg.replace(channels=2, num_pes=2)
    elif hasattr(cfg, "num_pes"):
        cfg = cfg.replace(num_pes=4)
    return cfg


@pytest.mark.parametrize("arch,kind", [(a, k) for a in registry.ACCELERATORS
                                       for k in registry.LAYER_KINDS])
def test_every_arch_kind_pair_runs_or_is_refused_in_one_line(arch, kind):
    wl = WORKLOADS[kind]()
    cfg = _config(arch)
    if kind in registry.get(arch).layer_kinds:
        r = simulate(cfg, wl, energy=None)
        assert r.outputs_match_reference is True and r.cycles > 0
        return
    runs = ", ".join(registry.archs_for_kind(kind))
    with pytest.raises(WorkloadError) as err:
        simulate(cfg, wl, energy=None)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg == (f"arch {arch} does not run {kind} layers ('{wl.layers[0].name}' of workload "
                   f"'{wl.name}'); {kind} layers run on: {runs}; {arch} runs: "
                   + ", ".join(registry.get(arch).layer_kinds))
    # A bare layer with its input is refused the same way.
    with pytest.raises(WorkloadError, match=f"does not run {kind} layers"):
        simulate(cfg, wl.layers[0], inputs=wl.inputs, energy=None)


@pytest.mark.parametrize("arch,workload", [("eie", "nt-lstm"), ("ese", "alexnet-fc8")])
def test_cli_exits_2_with_the_one_line(arch, workload, capsys):
    assert main(["run", "--workload", workload, "--arch", arch]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("eie-sim: error: arch ")
    kind = "lstm" if arch == "eie" else "fc"
    assert f"does not run {kind} layers" in err
    assert f"{kind} layers run on: {', '.join(registry.archs_for_kind(kind))}" in err
