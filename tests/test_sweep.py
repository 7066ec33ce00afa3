"""Sweeps: one row per point, rows equal single ``simulate`` calls, a cache that resumes an
interrupted sweep without losing or recomputing a point, the CLI's files and errors, and a Dask
local cluster giving the same table as the process pool.

Layers are small synthetic ones (explicit seeds) so the whole module runs in seconds.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

import eie_sim.sweep as sweep_mod
from eie_sim import DenseConfig, EIEConfig, EieSimError, simulate
from eie_sim.cli import main
from eie_sim.registry import ACCELERATORS
from eie_sim.sweep import SweepResult, grid, run_sweep, sweep
from eie_sim.workloads import LayerSpec, single_layer

PREFIX = "eie-sim: error: "
SMALL = {"inputs": 300, "outputs": 200, "weight_density": 0.2, "activation_density": 0.4,
         "seed": 3}
TINY = {"name": "tiny", "inputs": 96, "outputs": 40, "weight_density": 0.3,
        "activation_density": 0.6, "seed": 11}
RESULT_KEYS = ("cycles", "time_us", "load_balance_efficiency", "pe_utilization", "macs",
               "dram_read_bytes", "dram_write_bytes", "energy_pj", "dynamic_pj", "leakage_pj")


def small_grid(pes=(4, 8)):
    """eie + dense x two synthetic layers x ``pes``: 4 * len(pes) points."""
    return grid([EIEConfig(), DenseConfig()], [SMALL, TINY], {"num_pes": list(pes)})


def cache_files(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "points").glob("*.json"))


def no_tmp_files(root: Path) -> None:
    leftovers = [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [], leftovers


def as_json(rows):
    return json.loads(json.dumps(rows))


# ----------------------------------------------------------------------------- the table
def test_one_row_per_point_in_grid_order():
    points = small_grid()
    table = run_sweep(points, jobs=1)
    assert len(table.rows) == len(points) == 8
    assert table.computed == 8
    got = [(r["arch"], r["workload"], r["num_pes"]) for r in table.rows]
    want = [(p.config["arch"], p.label(), p.config["num_pes"]) for p in points]
    assert got == want
    assert len(set(got)) == len(got)
    assert table.columns[:3] == ["arch", "workload", "seed"]
    assert all(r["outputs_match_reference"] for r in table.rows)


def test_rows_equal_single_simulate_calls():
    table = sweep([EIEConfig(), DenseConfig()], [SMALL, TINY, "neuraltalk-lstm"],
                  {"num_pes": [8, 32]}, jobs=1)
    assert len(table.rows) == 2 * 3 * 2
    for row in table.rows:
        config = ACCELERATORS[row["arch"]].config().replace(num_pes=row["num_pes"])
        spec = {"neuraltalk-lstm": None, "tiny": TINY}.get(row["workload"], SMALL)
        if spec is None:
            workload = row["workload"]
        else:
            spec = {"name": row["workload"], **spec}
            workload = single_layer(LayerSpec(**spec))
        result = simulate(config, workload, engine="fast", energy="45nm")
        assert row["cycles"] == result.cycles
        assert row["time_us"] == pytest.approx(result.time_us, rel=1e-12)
        assert row["energy_pj"] == pytest.approx(result.energy.total_pj, rel=1e-12)
        assert row["dynamic_pj"] == pytest.approx(result.energy.dynamic_pj, rel=1e-12)
        for unit, pj in result.energy.by_unit.items():
            assert row[f"energy_pj.{unit}"] == pytest.approx(pj, rel=1e-12)
        assert row["dram_read_bytes"] == result.traffic_bytes.get("dram", {}).get("read", 0)
        assert row["load_balance_efficiency"] == pytest.approx(
            result.layers[0].load_balance_efficiency, rel=1e-12)


def test_synthetic_grid_sweeps_workload_fields():
    table = sweep(EIEConfig(num_pes=8), [SMALL],
                  {"workload.weight_density": [0.1, 0.5], "act_queue_depth": [2, 8]}, jobs=1)
    assert len(table.rows) == 4
    assert [(r["act_queue_depth"], r["workload.weight_density"]) for r in table.rows] == [
        (2, 0.1), (2, 0.5), (8, 0.1), (8, 0.5)]
    for r in table.rows:
        assert abs(r["weight_density"] - r["workload.weight_density"]) < 0.02


def test_process_pool_equals_in_process():
    points = small_grid()
    assert run_sweep(points, jobs=2).rows == run_sweep(points, jobs=1).rows


# ----------------------------------------------------------------------------- the cache
@pytest.fixture
def record_runs(monkeypatch):
    """Record the key of every point simulated in this process (jobs=1)."""
    keys: list[str] = []
    real = sweep_mod.run_point

    def run_point(point):
        keys.append(point.key())
        return real(point)

    monkeypatch.setattr(sweep_mod, "run_point", run_point)
    return keys


def test_cache_hit_recomputes_nothing(tmp_path, record_runs):
    points = small_grid()
    first = run_sweep(points, cache_dir=tmp_path, jobs=1)
    assert first.computed == len(points) == len(cache_files(tmp_path))
    record_runs.clear()
    again = run_sweep(points, cache_dir=tmp_path, jobs=1)
    assert again.computed == 0 and record_runs == []
    assert again.rows == as_json(first.rows)
    no_tmp_files(tmp_path)


def test_deleted_cache_entries_are_the_only_ones_recomputed(tmp_path, record_runs):
    points = small_grid(pes=(4, 8, 16))
    full = run_sweep(points, cache_dir=tmp_path, jobs=1)
    files = cache_files(tmp_path)
    assert len(files) == len(points) == 12
    deleted = {files[i].stem for i in (0, 5, 11)}
    for name in deleted:
        (tmp_path / "points" / f"{name}.json").unlink()
    record_runs.clear()
    table = run_sweep(points, cache_dir=tmp_path, jobs=1)
    assert table.computed == 3
    assert set(record_runs) == deleted and len(record_runs) == 3
    assert table.rows == as_json(full.rows)
    assert len(cache_files(tmp_path)) == 12
    no_tmp_files(tmp_path)


def stop_after(k: int):
    """A progress callback that interrupts the sweep (like Ctrl-C) after ``k`` points."""
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if done >= k:
            raise KeyboardInterrupt

    return progress


def test_interrupted_sweep_resumes_without_losing_or_recomputing(tmp_path, record_runs):
    points = small_grid(pes=(4, 8, 16))
    reference = run_sweep(points, jobs=1)
    record_runs.clear()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(points, cache_dir=tmp_path, jobs=1, progress=stop_after(5))
    finished = record_runs[:]
    assert len(finished) == 5
    assert {p.stem for p in cache_files(tmp_path)} == set(finished)
    no_tmp_files(tmp_path)

    record_runs.clear()
    table = run_sweep(points, cache_dir=tmp_path, jobs=1)
    assert table.computed == len(points) - 5
    assert sorted(record_runs) == sorted({p.key() for p in points} - set(finished))
    assert table.rows == as_json(reference.rows)  # no point lost, grid order kept
    assert len(cache_files(tmp_path)) == len(points)
    no_tmp_files(tmp_path)


def test_interrupted_process_pool_sweep_resumes(tmp_path):
    points = small_grid(pes=(4, 8, 16))
    reference = run_sweep(points, jobs=1)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(points, cache_dir=tmp_path, jobs=2, progress=stop_after(3))
    cached = len(cache_files(tmp_path))
    assert cached == 3  # a point is cached before the progress callback hears of it
    table = run_sweep(points, cache_dir=tmp_path, jobs=2)
    assert table.computed == len(points) - cached
    assert table.rows == as_json(reference.rows)
    no_tmp_files(tmp_path)


def test_cache_entries_are_written_atomically(tmp_path, monkeypatch):
    """A failed rename leaves neither a temporary file nor a partial entry, and the next run
    recomputes exactly the points without an entry."""
    import eie_sim.result as result_mod

    points = small_grid()
    real_replace = result_mod.os.replace
    calls = 0

    def flaky_replace(src, dst):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(result_mod.os, "replace", flaky_replace)
    with pytest.raises(EieSimError, match="No space left on device"):
        run_sweep(points, cache_dir=tmp_path, jobs=1)
    monkeypatch.setattr(result_mod.os, "replace", real_replace)
    assert len(cache_files(tmp_path)) == 2
    no_tmp_files(tmp_path)
    for path in cache_files(tmp_path):
        entry = json.loads(path.read_text())
        assert entry["cache_version"] == sweep_mod.CACHE_VERSION and entry["row"]["cycles"] > 0
    table = run_sweep(points, cache_dir=tmp_path, jobs=1)
    assert table.computed == len(points) - 2
    assert len(table.rows) == len(points)


@pytest.mark.parametrize("content", [b'{"cache_version": 1, "row": {"cy', b"", b"[]",
                                     b'{"cache_version": 0, "row": {}}', b"\xff\xfe"],
                         ids=["truncated", "empty", "list", "old-version", "not-utf8"])
def test_corrupt_cache_entry_is_a_one_line_error(tmp_path, content):
    points = small_grid()
    run_sweep(points, cache_dir=tmp_path, jobs=1)
    bad = cache_files(tmp_path)[2]
    bad.write_bytes(content)
    with pytest.raises(EieSimError) as info:
        run_sweep(points, cache_dir=tmp_path, jobs=1)
    message = str(info.value)
    assert "\n" not in message
    assert str(bad) in message and "corrupt" in message and "delete it" in message
    assert bad.read_bytes() == content  # left for the user to inspect


def test_cache_key_changes_with_every_input():
    base = grid(EIEConfig(), [SMALL])[0]
    others = [
        grid(EIEConfig(num_pes=32), [SMALL])[0],
        grid(EIEConfig(), [{**SMALL, "seed": 4}])[0],
        grid(EIEConfig(), [SMALL], seeds=[5])[0],
        grid(EIEConfig(), [SMALL], engine="des")[0],
        grid(EIEConfig(), [SMALL], energy="7nm")[0],
        grid(DenseConfig(), [SMALL])[0],
    ]
    keys = {base.key(), *(p.key() for p in others)}
    assert len(keys) == 1 + len(others)
    assert grid(EIEConfig(), [SMALL])[0].key() == base.key()


# ----------------------------------------------------------------------------- the CLI
SWEEP = ["sweep", "--arch", "eie,dense", "--inputs", "300", "--outputs", "200",
         "--weight-density", "0.1,0.3", "--activation-density", "0.4", "--pes", "4,16",
         "--seed", "2", "--jobs", "1", "--no-progress"]


def run_cli(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_sweep_writes_csv_and_json(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, [*SWEEP, "--out", str(out)])
    assert code == 0, err
    assert "8 points (8 simulated, 0 from cache)" in stdout
    table = SweepResult.load(out)
    assert len(table.rows) == 8
    assert len({(r["arch"], r["num_pes"], r["workload.weight_density"]) for r in table.rows}) == 8
    data = json.loads((out / "sweep.json").read_text())
    assert data["columns"] == table.columns and data["rows"] == table.rows
    with open(out / "sweep.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == table.columns
        csv_rows = list(reader)
    assert len(csv_rows) == 8
    for csv_row, row in zip(csv_rows, table.rows, strict=True):
        for key, value in row.items():
            assert csv_row[key] == ("" if value is None else str(value)), key
        for key in set(table.columns) - set(row):
            assert csv_row[key] == ""
    # the same points again: all from the cache, byte-identical files
    before = (out / "sweep.json").read_bytes(), (out / "sweep.csv").read_bytes()
    code, stdout, _ = run_cli(capsys, [*SWEEP, "--out", str(out)])
    assert code == 0 and "8 points (0 simulated, 8 from cache)" in stdout
    assert ((out / "sweep.json").read_bytes(), (out / "sweep.csv").read_bytes()) == before
    no_tmp_files(out)


def test_cli_rows_equal_library_sweep(capsys, tmp_path):
    out = tmp_path / "run"
    assert main([*SWEEP, "--out", str(out)]) == 0
    capsys.readouterr()
    table = sweep([EIEConfig(), DenseConfig()], [{"inputs": 300, "outputs": 200}],
                  {"num_pes": [4, 16], "workload.weight_density": [0.1, 0.3],
                   "workload.activation_density": [0.4]}, seeds=[2], jobs=1)
    assert SweepResult.load(out).rows == as_json(table.rows)


@pytest.mark.parametrize("argv, words", [
    (["--arch", "eie,tpu", "--workload", "alexnet-fc8"], ["unknown arch 'tpu'", "allowed:"]),
    (["--workload", "alexnet-fc8,nope"], ["unknown workload 'nope'"]),
    (["--workload", "alexnet-fc8", "--pes", "8,0"], ["num_pes", "got 0"]),
    (["--workload", "alexnet-fc8", "--queue-depth", "1"], ["circular FIFO"]),
    (["--workload", "alexnet-fc8", "--energy", "3nm"], ["energy table '3nm'"]),
    (["--workload", "alexnet-fc8", "--jobs", "0"], ["--jobs", ">= 1"]),
    (["--inputs", "300", "--outputs", "200"], ["a synthetic sweep needs"]),
    (["--inputs", "300", "--outputs", "200", "--weight-density", "0.1,2",
      "--activation-density", "0.3"], ["weight_density", "got 2"]),
    ([], ["give either --workload"]),
], ids=["arch", "workload", "pes-zero", "depth-1-circular", "energy", "jobs", "synthetic",
        "density", "no-workload"])
def test_cli_sweep_errors_are_one_line_and_create_nothing(capsys, tmp_path, argv, words):
    out = tmp_path / "fresh" / "out"
    code, stdout, err = run_cli(capsys, ["sweep", *argv, "--out", str(out), "--no-progress"])
    assert code == 2
    assert stdout == ""
    assert err.startswith(PREFIX) and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err
    assert not (tmp_path / "fresh").exists()


# ----------------------------------------------------------------------------- Dask
@pytest.mark.slow
def test_dask_local_cluster_equals_process_pool(tmp_path):
    distributed = pytest.importorskip("distributed")
    points = small_grid(pes=(4, 8, 16))
    local = run_sweep(points, jobs=2)
    start = time.perf_counter()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        table = run_sweep(points, executor=client.get_executor(), cache_dir=tmp_path)
        assert table.computed == len(points)
        # resumes from the cache written by the cluster's results
        again = run_sweep(points, executor=client.get_executor(), cache_dir=tmp_path)
    assert time.perf_counter() - start < 120
    assert table.rows == local.rows
    assert again.computed == 0 and again.rows == as_json(local.rows)
    no_tmp_files(tmp_path)


def test_an_infeasible_point_is_a_row_marked_infeasible_and_the_sweep_completes(tmp_path):
    from eie_sim import EIEConfig
    from eie_sim.plots import plot_data

    table = sweep(EIEConfig(), ["alexnet-fc8"], {"num_pes": [1, 16, 64]}, jobs=1,
                  cache_dir=tmp_path)
    by_pes = {r["num_pes"]: r for r in table.rows}
    assert by_pes[1]["status"] == "infeasible"
    assert "sparse-matrix SRAM" in by_pes[1]["error"] and by_pes[1].get("cycles") is None
    assert by_pes[1]["machine"].startswith("EIE 1 PE")
    assert [by_pes[p]["status"] for p in (16, 64)] == ["ok", "ok"]
    assert all(r["machine"] for r in table.rows)
    again = sweep(EIEConfig(), ["alexnet-fc8"], {"num_pes": [1, 16, 64]}, jobs=1,
                  cache_dir=tmp_path)
    assert again.computed == 0 and again.rows == table.rows  # infeasible rows are cached too
    data = plot_data("pe-sweep", table)
    shown = {i for panel in data["panels"] for s in panel["series"] for i in s["rows"]}
    assert shown == {1, 2} and data["skipped"] == [0]
    assert "1 infeasible point not shown" in data["subtitle"]


def test_a_grid_with_an_unknown_workload_fails_before_any_point_runs():
    from eie_sim import EIEConfig
    from eie_sim.errors import WorkloadError

    with pytest.raises(WorkloadError, match="unknown workload 'alexnet-fc9'"):
        grid([EIEConfig()], ["alexnet-fc8", "alexnet-fc9"])


def test_every_row_names_its_machine_and_the_json_holds_its_full_config(tmp_path):
    from eie_sim import STCConfig

    table = sweep([EIEConfig(), STCConfig.preset("iso-eie", weights_from="dram")],
                  ["alexnet-fc8"], {"num_pes": [16, 64], "batch": [1, 8]}, jobs=1)
    table.save(tmp_path)
    loaded = SweepResult.load(tmp_path)
    assert len(loaded.rows) == 4
    for row in loaded.rows:
        config = loaded.machines[row["config_hash"]]
        assert config["arch"] == row["arch"] and row["machine"]
        assert config.get("num_pes", row["num_pes"]) == row["num_pes"]
    with open(tmp_path / "sweep.csv") as fh:
        header = next(csv.reader(fh))
    assert {"machine", "config_hash", "status", "energy_table"} <= set(header)
