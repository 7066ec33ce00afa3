"""Determinism: the same inputs and seed give byte-identical JSON, across runs, processes,
engines (up to the "engine" field) and sweep worker counts; a different seed gives a
different result."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from eie_sim.cli import main

FC8 = "--workload alexnet-fc8 --pes 16"
SYNTH = ("--inputs 300 --outputs 200 --weight-density 0.2 --activation-density 0.4 "
         "--seed 5 --pes 8")
WORKLOADS = [pytest.param(FC8, id="alexnet-fc8"), pytest.param(SYNTH, id="synthetic-300x200")]


def cli(capsys, argv: list[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def run_json(capsys, path: Path, args: str, *extra: str) -> bytes:
    """``eie-sim run ARGS --json PATH`` in this process; the JSON bytes."""
    cli(capsys, ["run", *shlex.split(args), *extra, "--json", str(path), "--no-progress"])
    return path.read_bytes()


def run_json_subprocess(path: Path, args: str, hash_seed: int) -> bytes:
    """The same in a fresh interpreter with its own PYTHONHASHSEED (set/dict-order effects)."""
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    proc = subprocess.run(
        [sys.executable, "-m", "eie_sim.cli", "run", *shlex.split(args), "--json", str(path),
         "--no-progress"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return path.read_bytes()


def as_engine(data: bytes, engine_from: str, engine_to: str, count: int = 1) -> bytes:
    """``data`` with its "engine" field(s) rewritten, after checking there are ``count``."""
    old = f'"engine": "{engine_from}"'.encode()
    assert data.count(old) == count, data.count(old)
    return data.replace(old, f'"engine": "{engine_to}"'.encode())


# ----------------------------------------------------------------------------- run
@pytest.mark.parametrize("args", WORKLOADS)
def test_run_is_byte_identical_across_processes(capsys, tmp_path, args):
    first = run_json_subprocess(tmp_path / "a.json", args, hash_seed=1)
    second = run_json_subprocess(tmp_path / "b.json", args, hash_seed=2)
    in_process = run_json(capsys, tmp_path / "c.json", args)
    assert first == second == in_process
    assert json.loads(first)["layers"][0]["outputs_match_reference"] is True


@pytest.mark.parametrize("args", WORKLOADS)
def test_des_and_fast_json_differ_only_in_the_engine_field(capsys, tmp_path, args):
    des = run_json(capsys, tmp_path / "des.json", args, "--engine", "des")
    fast = run_json(capsys, tmp_path / "fast.json", args, "--engine", "fast")
    again = run_json(capsys, tmp_path / "des2.json", args, "--engine", "des")
    assert des == again
    assert des != fast
    assert as_engine(des, "des", "fast") == fast


def test_dense_arch_is_deterministic_and_engines_agree(capsys, tmp_path):
    des = run_json(capsys, tmp_path / "des.json", SYNTH, "--arch", "dense", "--engine", "des")
    fast = run_json(capsys, tmp_path / "fast.json", SYNTH, "--arch", "dense", "--engine", "fast")
    assert json.loads(fast)["arch"] == "dense"
    assert as_engine(des, "des", "fast") == fast
    # a Table III layer (fast engine: the dense DES of 4096 x 1000 takes seconds)
    first = run_json(capsys, tmp_path / "fc8a.json", FC8, "--arch", "dense")
    second = run_json(capsys, tmp_path / "fc8b.json", FC8, "--arch", "dense")
    assert first == second


@pytest.mark.parametrize("args", WORKLOADS)
def test_different_seeds_give_different_results(capsys, tmp_path, args):
    base = json.loads(run_json(capsys, tmp_path / "a.json", args, "--seed", "1"))
    same = json.loads(run_json(capsys, tmp_path / "b.json", args, "--seed", "1"))
    other = json.loads(run_json(capsys, tmp_path / "c.json", args, "--seed", "2"))
    assert base == same
    assert base["layers"][0]["outputs_sha256"] != other["layers"][0]["outputs_sha256"]
    assert base["layers"][0]["counts"] != other["layers"][0]["counts"]


# ----------------------------------------------------------------------------- compare
def test_compare_is_byte_identical(capsys, tmp_path):
    paths = [tmp_path / f"cmp{i}.json" for i in range(3)]
    outs = []
    for path, seed in zip(paths, ("7", "7", "8"), strict=True):
        outs.append(cli(capsys, ["compare", "--workload", "alexnet-fc8", "--seed", seed,
                                 "--json", str(path)]))
    a, b, c = (p.read_bytes() for p in paths)
    assert a == b and outs[0] == outs[1]
    assert set(json.loads(a)) == {"mode", "workload", "rows", "totals"}
    assert {r["role"] for r in json.loads(a)["rows"]} == {
        "EIE", "2:4 tensor core", "dense tensor core", "dense PE array"}
    assert a != c


# ----------------------------------------------------------------------------- sweep
SWEEP = ("sweep --arch eie,dense --workload alexnet-fc8,neuraltalk-lstm --pes 16,32 "
         "--no-progress")
SYNTH_SWEEP = ("sweep --inputs 300 --outputs 200 --weight-density 0.1,0.3 "
               "--activation-density 0.5 --pes 4,8 --no-progress")


def sweep_files(capsys, out: Path, args: str, *extra: str) -> tuple[bytes, bytes]:
    cli(capsys, [*shlex.split(args), *extra, "--out", str(out)])
    return (out / "sweep.json").read_bytes(), (out / "sweep.csv").read_bytes()


def test_sweep_is_byte_identical_across_runs_and_jobs(capsys, tmp_path):
    a = sweep_files(capsys, tmp_path / "a", SWEEP, "--jobs", "1")
    b = sweep_files(capsys, tmp_path / "b", SWEEP, "--jobs", "1")
    c = sweep_files(capsys, tmp_path / "c", SWEEP, "--jobs", "2")
    assert a == b == c
    assert len(json.loads(a[0])["rows"]) == 8
    # resumed entirely from the cache: the same bytes again
    assert sweep_files(capsys, tmp_path / "c", SWEEP, "--jobs", "2") == a


def test_synthetic_sweep_seeds(capsys, tmp_path):
    one = sweep_files(capsys, tmp_path / "s1", SYNTH_SWEEP, "--seed", "1", "--jobs", "2")
    again = sweep_files(capsys, tmp_path / "s1b", SYNTH_SWEEP, "--seed", "1", "--jobs", "1")
    two = sweep_files(capsys, tmp_path / "s2", SYNTH_SWEEP, "--seed", "2", "--jobs", "1")
    assert one == again
    rows1, rows2 = json.loads(one[0])["rows"], json.loads(two[0])["rows"]
    assert [r["seed"] for r in rows1] == [1] * 4 and [r["seed"] for r in rows2] == [2] * 4
    strip = [{k: v for k, v in r.items() if k != "seed"} for r in rows1]
    assert strip != [{k: v for k, v in r.items() if k != "seed"} for r in rows2]


def test_sweep_des_and_fast_differ_only_in_the_engine_field(capsys, tmp_path):
    args = "sweep --workload alexnet-fc8,neuraltalk-lstm --pes 16 --jobs 1 --no-progress"
    des, _ = sweep_files(capsys, tmp_path / "des", args, "--engine", "des")
    fast, _ = sweep_files(capsys, tmp_path / "fast", args, "--engine", "fast")
    assert as_engine(des, "des", "fast", count=2) == fast
