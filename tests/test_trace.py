"""Traces of DES runs: valid Chrome trace-event files whose per-unit spans add up to the cycles
the result counts, for the PE arrays and the tensor cores; bounded in size; CLI errors."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from eie_sim import EIEConfig, simulate
from eie_sim.cli import main
from eie_sim.registry import ACCELERATORS
from eie_sim.trace import STATES, active, recording

PHASES = {"X", "C", "M"}


def check_format(doc: dict) -> list[dict]:
    """The trace-event format (JSON object form) as chrome://tracing and Perfetto read it."""
    assert set(doc) == {"traceEvents", "displayTimeUnit", "otherData"}
    events = doc["traceEvents"]
    for e in events:
        assert e["ph"] in PHASES, e
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int) and e["name"]
        if e["ph"] == "X":
            assert isinstance(e["ts"], int) and isinstance(e["dur"], int)
            assert e["ts"] >= 0 and e["dur"] > 0, e
        elif e["ph"] == "C":
            assert isinstance(e["ts"], int) and all(isinstance(v, int) for v in e["args"].values())
        else:
            assert e["name"] in ("process_name", "thread_name", "process_sort_index",
                                 "thread_sort_index")
    return events


def unit_totals(events: list[dict]) -> dict[str, dict[str, int]]:
    """Thread name -> state -> cycles, over the unit tracks."""
    names = {e["tid"]: e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == 1}
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATES, 0))
    for e in events:
        if e["ph"] == "X" and e["pid"] == 1 and e["tid"] >= 10:
            totals[names[e["tid"]]][e["name"]] += e["dur"]
    return totals


def spans_do_not_overlap(events: list[dict]) -> None:
    tracks = defaultdict(list)
    for e in events:
        if e["ph"] == "X" and e["tid"] >= 2:
            tracks[e["pid"], e["tid"]].append((e["ts"], e["ts"] + e["dur"]))
    for spans in tracks.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """A chained 300-600-200-50 network (600 outputs at 8 PEs: two passes)."""
    import numpy as np

    from eie_sim.workloads.model_file import model_workload

    rng = np.random.default_rng(4)
    path = tmp_path_factory.mktemp("trace") / "net.npz"
    shapes = {"fc1.weight": (600, 300), "fc2.weight": (200, 600), "fc3.weight": (50, 200)}
    np.savez(path, **{k: rng.normal(size=s) * (rng.random(s) < 0.15) for k, s in shapes.items()},
             **{"fc1.bias": rng.normal(size=600) * 0.1})
    return model_workload(path, activation_density=0.5, seed=2)


@pytest.mark.parametrize("arch, config", [
    ("eie", dict(num_pes=8, act_queue_depth=2, batch_swap_cycles=3)),  # stalls, passes, swaps
    ("dense", dict(num_pes=4)),
])
def test_pe_spans_add_up_to_each_pes_cycles(network, arch, config):
    workload = network
    cfg = ACCELERATORS[arch].default_config().replace(**config)
    with recording() as rec:
        result = simulate(cfg, workload, engine="des", energy=None)
    assert active() is None  # only inside the block
    doc = json.loads(rec.to_json(result))
    events = check_format(doc)
    spans_do_not_overlap(events)
    assert doc["otherData"]["decimation"] == [{"layer": lr.name, "window_cycles": 1}
                                              for lr in result.layers]
    totals = unit_totals(events)
    want = {f"PE {k}": dict.fromkeys(STATES, 0) for k in range(cfg.num_pes)}
    for lr in result.layers:
        for k in range(cfg.num_pes):
            for state, arr in zip(STATES, (lr.unit_busy_cycles, lr.unit_stall_cycles,
                                           lr.unit_idle_cycles), strict=True):
                want[f"PE {k}"][state] += int(arr[k])
    assert totals == want
    assert all(sum(t.values()) == result.cycles for t in totals.values())
    if arch == "eie":
        assert any(t["stall"] for t in totals.values())  # a depth-2 queue stalls
    # the layers one after another; passes inside them; CCU broadcasts = the counter
    layers = [e for e in events if e.get("cat") == "layer"]
    assert [(e["name"], e["dur"]) for e in layers] == [(lr.name, lr.cycles)
                                                       for lr in result.layers]
    passes = [e for e in events if e.get("cat") == "pass"]
    assert len(passes) == sum(len(lr.segment_cycles) for lr in result.layers)
    broadcast = sum(e["dur"] for e in events if e["ph"] == "X" and e["name"] == "broadcast")
    assert broadcast == sum(lr.counts["ccu.broadcast"] for lr in result.layers)
    stall = sum(e["dur"] for e in events if e["ph"] == "X" and e["tid"] == 2
                and e["name"] == "stall")
    assert stall == sum(lr.counts["ccu.stall"] for lr in result.layers)
    # queue occupancy: within [0, capacity], back to 0 at the end
    for k in range(cfg.num_pes):
        levels = [e["args"]["entries"] for e in events if e["ph"] == "C"
                  and e["name"] == f"queue PE {k}"]
        assert levels and 0 <= min(levels) and max(levels) <= cfg.queue_capacity
        assert levels[-1] == 0


def test_tensor_core_trace_has_mma_spans_and_waves():
    acc = ACCELERATORS["stc"]
    cfg = acc.default_config("iso-eie")
    with recording() as rec:
        result = simulate(cfg, "alexnet-fc8", engine="des", energy=None)
    events = check_format(json.loads(rec.to_json(result)))
    spans_do_not_overlap(events)
    lr = result.layers[0]
    totals = unit_totals(events)
    assert len(totals) == lr.unit_busy_cycles.size
    for k, t in enumerate(totals.values()):
        assert (t["busy"], t["stall"], t["idle"]) == (
            int(lr.unit_busy_cycles[k]), int(lr.unit_stall_cycles[k]),
            int(lr.unit_idle_cycles[k]))
    waves = [e for e in events if e.get("cat") == "wave"]
    assert [e["dur"] for e in waves] == lr.segment_cycles
    mma = [e for e in events if e["ph"] == "X" and e["name"] == "busy" and e["pid"] == 1]
    assert sum(e["args"]["mma"] for e in mma) == lr.counts["tc.mma"]


def test_big_layers_are_decimated_with_exact_totals():
    cfg = EIEConfig(num_pes=16)
    with recording(max_events=2_000) as rec:
        result = simulate(cfg, "alexnet-fc8", engine="des", energy=None)
    doc = json.loads(rec.to_json(result))
    events = check_format(doc)
    (dec,) = doc["otherData"]["decimation"]
    assert dec["window_cycles"] > 1
    assert len(events) < 4 * 2_000
    totals = unit_totals(events)
    lr = result.layers[0]
    for k in range(cfg.num_pes):
        assert totals[f"PE {k}"] == {"busy": int(lr.unit_busy_cycles[k]),
                                     "stall": int(lr.unit_stall_cycles[k]),
                                     "idle": int(lr.unit_idle_cycles[k])}


def test_nothing_recorded_with_the_fast_engine_is_an_error():
    from eie_sim.errors import EieSimError

    with recording() as rec:
        simulate(EIEConfig(num_pes=16), "alexnet-fc8", engine="fast", energy=None)
    with pytest.raises(EieSimError, match="engine='des'"):
        rec.to_json()


def test_cli_writes_a_trace_and_refuses_what_it_cannot_trace(capsys, tmp_path):
    path = tmp_path / "t.json"
    code = main(["run", "--workload", "alexnet-fc8", "--pes", "8", "--engine", "des",
                 "--trace", str(path), "--no-progress"])
    out = capsys.readouterr()
    assert code == 0 and f"trace: {path}" in out.err
    check_format(json.loads(path.read_text()))
    for argv, message in ((["--trace", str(path)], "add --engine des"),
                          (["--engine", "des", "--trace", "-"], "needs a file path"),
                          (["--engine", "des", "--trace", str(tmp_path / "no" / "t.json")],
                           "does not exist")):
        code = main(["run", "--workload", "alexnet-fc8", "--no-progress", *argv])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and message in err, err
