"""Energy tables, pricing, memory traffic, capacity / DRAM streaming and the dense baseline."""

from __future__ import annotations

import json
import math
import os
from importlib import resources

import numpy as np
import pytest
import yaml

from eie_sim import (
    CapacityError,
    ConfigError,
    DenseConfig,
    EIEConfig,
    load_table,
    registry,
    simulate,
)
from eie_sim.cli import main
from eie_sim.config import BUNDLED_ENERGY_TABLES, ESEConfig, STCConfig
from eie_sim.energy import UnitGeometry, price
from eie_sim.workloads import LayerSpec, single_layer


def small(wd=0.2, ad=0.4, inputs=256, outputs=192, seed=3):
    return single_layer(LayerSpec("t", inputs, outputs, wd, ad, seed=seed))


def raw_table(name):
    text = resources.files("eie_sim.energy").joinpath(f"tables/{name}.yaml").read_text()
    return yaml.safe_load(text)


def independent_price(counts, raw, geometry, time_us):
    """Price counts straight from the YAML, re-deriving the SRAM rule by hand."""
    pts = sorted((float(c), float(e)) for c, e in raw["sram"]["read_pj_by_capacity_bytes"].items())

    def e64(cap):
        lx = [math.log(c) for c, _ in pts]
        ly = [math.log(e) for _, e in pts]
        x = math.log(cap)
        i = 0 if x <= lx[1] else 1
        return math.exp(ly[i] + (ly[i + 1] - ly[i]) / (lx[i + 1] - lx[i]) * (x - lx[i]))

    total = 0.0
    for name, count in counts.items():
        unit, action = name.rsplit(".", 1)
        entry = raw["units"][unit][action]
        if "pj" in entry:
            p = entry["pj"]
        else:
            geo = geometry[unit]
            p = e64(geo.capacity_bytes) * geo.width_bits / 64
        total += count * p
    for unit, geo in geometry.items():
        entry = raw["units"][unit]["leakage_mw"]
        mw = (
            entry["value"]
            if "value" in entry
            else (raw["sram"]["leakage_mw_per_kib"] * geo.capacity_bytes / 1024)
        )
        total += mw * geo.instances * time_us * 1e3
    return total


SMALL_TC = STCConfig(sms=4, tensor_cores_per_sm=2, dense_fma_per_clk_per_sm=512, batch=3)
PRICED = [EIEConfig(num_pes=8), DenseConfig(num_pes=8), SMALL_TC, SMALL_TC.dense_twin(),
          SMALL_TC.replace(weights_from="sram", weight_sram_bytes=1 << 20, dtype="int8"),
          ESEConfig(channels=2, num_pes=4)]


def priced_workload(arch):
    """small(), or for ESE (which runs LSTM layers) a small LSTM."""
    if arch.arch != "ese":
        return small()
    from eie_sim.workloads.lstm import LSTMSpec, lstm_workload

    return lstm_workload(LSTMSpec(name="lstm", input_size=8, hidden=16, projection=8, steps=2,
                                  utterances=3, density=0.3))


def test_the_priced_machines_cover_every_registered_accelerator():
    assert {c.arch for c in PRICED} == set(registry.ACCELERATORS)


@pytest.mark.parametrize("table", ["45nm", "7nm"])
@pytest.mark.parametrize("arch", PRICED,
                         ids=lambda c: f"{c.arch}-{getattr(c, 'weights_from', 'dram')}")
def test_priced_energy_equals_counts_times_table(arch, table):
    result = simulate(arch, priced_workload(arch), energy=table)
    layer = result.layers[0]
    geometry = registry.get(arch.arch).implementation().geometry(arch)
    expected = independent_price(layer.counts, raw_table(table), geometry, layer.time_us)
    assert layer.energy.total_pj == pytest.approx(expected, rel=1e-12)
    assert layer.energy.total_pj > 0


def test_breakdowns_sum_to_total_and_power():
    layer = simulate(EIEConfig(num_pes=16), small()).layers[0]
    e = layer.energy
    assert sum(e.by_unit.values()) == pytest.approx(e.total_pj)
    assert sum(e.dynamic_by_action.values()) + sum(e.leakage_by_unit.values()) == pytest.approx(
        e.total_pj
    )
    assert e.dynamic_pj + e.leakage_pj == pytest.approx(e.total_pj)
    assert e.power_mw == pytest.approx(e.total_pj / layer.time_us / 1e3)
    for name, count in layer.counts.items():
        assert e.dynamic_by_action[name] == pytest.approx(count * e.prices_pj[name])


def test_sram_scaling_rule_hits_the_reference_points_and_scales_width():
    t = load_table("45nm")
    assert t.sram.read_pj(8192, 64) == pytest.approx(10.0)
    assert t.sram.read_pj(32768, 64) == pytest.approx(20.0)
    assert t.sram.read_pj(1 << 20, 64) == pytest.approx(100.0)
    assert t.sram.read_pj(32768, 32) == pytest.approx(10.0)  # linear in width
    # between points: log-log interpolation, sub-linear in capacity
    mid = t.sram.read_pj(128 * 1024, 64)
    assert 20.0 < mid < 100.0 and mid < 20.0 * 4
    # below the smallest point: the first segment's slope (0.5 at 45 nm)
    assert t.sram.read_pj(2048, 64) == pytest.approx(5.0)
    seven = load_table("7nm")
    assert seven.sram.read_pj(8192, 64) == pytest.approx(7.5)


def test_missing_price_is_an_error_not_zero():
    table = load_table("45nm")
    counts = {"pe.arith.mac": 10, "pe.arith.frobnicate": 1}
    with pytest.raises(ConfigError, match="no price for pe.arith.frobnicate"):
        price(counts, table, {"pe.arith": UnitGeometry(1)}, 1.0)
    with pytest.raises(ConfigError, match="no leakage_mw for unit mystery"):
        price({"pe.arith.mac": 1}, table, {"mystery": UnitGeometry(1)}, 1.0)


def test_user_table_missing_an_action_fails_at_pricing(tmp_path):
    raw = raw_table("45nm")
    del raw["units"]["pe.arith"]["mac"]
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="no price for pe.arith.mac"):
        simulate(EIEConfig(num_pes=4), small(), energy=str(path))


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda r: r["units"].setdefault("warp_core", {}), "unknown unit 'warp_core'; allowed:"),
        (
            lambda r: r["units"]["pe.arith"].update(fma={"pj": 1, "source": "x"}),
            "unknown action pe.arith.fma; allowed for pe.arith: bypass, leakage_mw, mac, padding",
        ),
        (lambda r: r["units"]["pe.arith"].update(mac={"pj": 1}), "needs a source"),
        (lambda r: r["units"]["pe.arith"].update(mac={"pj": -1, "source": "x"}), "finite pj >= 0"),
        (lambda r: r.update(colour="blue"), "unknown key(s) colour"),
    ],
)
def test_user_table_validation(tmp_path, mutate, message):
    raw = raw_table("45nm")
    mutate(raw)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        load_table(str(path))
    assert message in str(err.value)


def test_cli_energy_table_errors_are_one_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsram: {read_pj_by_capacity_bytes: {8192: 1}}\nunits: {bogus: {}}\n")
    assert main(["run", "--workload", "alexnet-fc8", "--energy", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown unit 'bogus'" in err[0]


def test_traffic_levels_follow_counts():
    cfg = EIEConfig(num_pes=8, weights_from="dram")
    layer = simulate(cfg, small()).layers[0]
    t, c = layer.traffic_bytes, layer.counts
    assert t["spmat_sram"]["read"] == c["pe.spmat_sram.read"] * 8
    assert t["ptr_sram"]["read"] == c["pe.ptr_sram.read"] * 2
    assert t["codebook"]["read"] == c["pe.weight_decoder.lookup"] * 2
    assert t["act_regfile"]["write"] == 2 * (c["pe.src_regfile.write"] + c["pe.dest_regfile.write"])
    assert t["dram"]["read"] == c["dram.read_bytes"] > 0
    # every streamed 8-bit entry is fetched once and issued once
    assert c["dram.read_bytes"] == c["pe.weight_decoder.lookup"]


def test_eie_energy_falls_with_weight_and_activation_density():
    cfg = EIEConfig(num_pes=16)
    by_wd = [
        simulate(cfg, small(wd=d, inputs=1024, outputs=512)).energy.total_pj
        for d in (0.5, 0.2, 0.05)
    ]
    by_ad = [
        simulate(cfg, small(ad=d, inputs=1024, outputs=512)).energy.total_pj
        for d in (0.9, 0.4, 0.1)
    ]
    assert by_wd[0] > by_wd[1] > by_wd[2]
    assert by_ad[0] > by_ad[1] > by_ad[2]


def test_dense_cycles_follow_the_model_when_weights_fit():
    """One pass, equal rows per PE, no stalls: cycles = columns x rows per PE + 8."""
    for inputs, outputs, n in ((64, 64, 8), (128, 64, 8), (128, 128, 16), (96, 40, 5)):
        wl = small(inputs=inputs, outputs=outputs)
        layer = simulate(DenseConfig(num_pes=n), wl).layers[0]
        columns = inputs + 1  # bias column
        assert layer.cycles == columns * (outputs // n) + 8
        assert layer.counts["pe.arith.mac"] == columns * outputs
        assert layer.counts["dram.read_bytes"] == 0


def test_dense_streams_from_dram_when_weights_do_not_fit():
    wl = small(inputs=512, outputs=256)
    cfg = DenseConfig(num_pes=4, weight_sram_bytes=4096, dram_bandwidth_gbps=3.2)
    layer = simulate(cfg, wl).layers[0]
    weight_bytes = 2 * 256 * 513
    assert layer.counts["dram.read_bytes"] == weight_bytes * 1  # one pass
    bytes_per_cycle = 3.2e3 / 800
    assert layer.cycles >= weight_bytes / bytes_per_cycle
    assert layer.cycles <= weight_bytes / bytes_per_cycle + 256 / 4 + 16
    with pytest.raises(CapacityError, match="needs 65664 B of weight SRAM per PE"):
        simulate(cfg.replace(weights_from="sram"), wl)
    # twice the inputs: twice the DRAM-bound time
    longer = simulate(cfg, small(inputs=1024, outputs=256)).layers[0]
    assert longer.cycles == pytest.approx(2 * layer.cycles, rel=0.02)


def test_dense_and_eie_compute_the_same_outputs():
    wl = small(inputs=300, outputs=100)
    a = simulate(EIEConfig(num_pes=8), wl).layers[0]
    b = simulate(DenseConfig(num_pes=8), wl).layers[0]
    assert np.array_equal(a.outputs, b.outputs) and a.outputs_match_reference
    assert b.counts["pe.arith.mac"] > a.counts["pe.arith.mac"]
    assert b.energy.total_pj > a.energy.total_pj


def test_capacity_refusal_and_streaming():
    wl = small(wd=0.5, inputs=2048, outputs=512)
    cfg = EIEConfig(num_pes=2, spmat_sram_bytes=64 * 1024)
    with pytest.raises(CapacityError) as err:
        simulate(cfg, wl)
    msg = str(err.value)
    assert "B of sparse-matrix SRAM per PE at 2 PEs, 65536 B available" in msg
    assert "weights_from 'dram'" in msg
    slow = simulate(cfg.replace(weights_from="dram", dram_bandwidth_gbps=0.8), wl).layers[0]
    fast = simulate(cfg.replace(weights_from="dram", dram_bandwidth_gbps=80.0), wl).layers[0]
    resident = simulate(cfg.replace(sram_capacity="unbounded"), wl).layers[0]
    assert slow.cycles > fast.cycles >= resident.cycles
    assert slow.counts["dram.read_bytes"] == fast.counts["dram.read_bytes"] > 0
    assert resident.counts["dram.read_bytes"] == 0
    # 1 byte per cycle: the stream bounds the time
    assert slow.cycles >= slow.counts["dram.read_bytes"]
    assert slow.energy.by_unit["dram"] == pytest.approx(160.0 * slow.counts["dram.read_bytes"])
    assert np.array_equal(slow.outputs, resident.outputs)


def test_run_json_has_energy_power_and_traffic(tmp_path, capsys):
    path = tmp_path / "r.json"
    assert (
        main(
            [
                "run",
                "--workload",
                "alexnet-fc8",
                "--arch",
                "dense",
                "--json",
                str(path),
                "--energy",
                "7nm",
            ]
        )
        == 0
    )
    data = json.loads(path.read_text())
    layer = data["layers"][0]
    assert layer["energy_pj"]["table"] == "7nm"
    assert layer["energy_pj"]["total"] == pytest.approx(sum(layer["energy_pj"]["by_unit"].values()))
    assert layer["power_mw"] > 0
    assert set(layer["traffic_bytes"]) >= {"dram", "weight_sram", "act_regfile"}
    assert data["totals"]["energy_pj"]["total"] == pytest.approx(layer["energy_pj"]["total"])


def test_compare_prints_every_machine_and_ratios(tmp_path, capsys):
    path = tmp_path / "c.json"
    assert main(["compare", "--workload", "alexnet-fc8", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "speedup_vs_dense" in out and "energy_vs_dense" in out
    data = json.loads(path.read_text())
    totals = {t["role"]: t for t in data["totals"]}
    assert set(totals) == {"EIE", "2:4 tensor core", "dense tensor core", "dense PE array"}
    assert (totals["EIE"]["time_us_per_inference"]
            < totals["dense PE array"]["time_us_per_inference"])
    tc = [r for r in data["rows"] if r["role"] == "2:4 tensor core"]
    assert tc and all(" 2:4 fp16, " in r["machine"] for r in tc)
    assert "2:4 tensor core" in out


@pytest.mark.parametrize("name", sorted(BUNDLED_ENERGY_TABLES))
def test_bundled_tables_read_by_libyaml_as_by_the_bounded_loader(name):
    """The bundled tables are parsed with PyYAML's fast loader; it must read exactly what the
    bounded YAML 1.2 loader every user file goes through reads."""
    from eie_sim.energy.table import bundled_text, parse_bundled
    from eie_sim.safe_yaml import load

    text = bundled_text(name)
    assert parse_bundled(text) == load(text)


@pytest.mark.parametrize("name", sorted(BUNDLED_ENERGY_TABLES))
def test_bundled_tables_are_cached_parsed_and_checked(tmp_path, monkeypatch, name):
    """A bundled table's parsed YAML is kept in the cache directory under the hash of its
    text: a later process reads the same data without PyYAML; a damaged or planted entry is
    never trusted (parsed again and replaced); with the cache off nothing is written."""
    from eie_sim.energy import table

    monkeypatch.setenv("EIE_SIM_CACHE_DIR", str(tmp_path))
    parsed = table.parse_bundled(table.bundled_text(name))
    assert table._bundled_data(name) == parsed  # parses and stores
    (entry,) = tmp_path.glob(f"energy-{name}-*.json")
    assert table._bundled_data(name) == parsed  # loads
    good = entry.read_bytes()
    for bad in (good[:-20], good.replace(b"pj", b"pk", 1), b"", b"x\n{}", b"\xff" * 100):
        entry.write_bytes(bad)
        assert table._bundled_data(name) == parsed
        assert entry.read_bytes() == good  # rebuilt
    entry.unlink()
    entry.mkdir()  # not a regular file: not read, not replaced
    assert table._bundled_data(name) == parsed
    entry.rmdir()
    monkeypatch.setenv("EIE_SIM_CACHE_DIR", "off")
    assert table._bundled_data(name) == parsed
    assert not any(tmp_path.iterdir())


def test_a_cached_bundled_table_is_read_without_yaml(tmp_path):
    """Once it is cached, reading a bundled table does not import PyYAML."""
    import subprocess
    import sys

    code = ("import sys\nfrom eie_sim.energy import load_table\nload_table('45nm')\n"
            "print('yaml' in sys.modules)")
    env = {**os.environ, "EIE_SIM_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, check=True).stdout.strip() for _ in range(2)]
    assert runs == ["True", "False"]
