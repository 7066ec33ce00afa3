"""The command line: the main job, JSON output, and one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from eie_sim.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_workloads_lists_every_table_iii_layer(capsys):
    code, out, _ = run(capsys, "workloads")
    assert code == 0
    for name in ("alexnet-fc6", "vgg-fc8", "neuraltalk-lstm", "alexnet"):
        assert name in out


def test_run_synthetic_writes_json(capsys, tmp_path):
    path = tmp_path / "r.json"
    code, out, err = run(
        capsys,
        "run",
        "--inputs",
        "300",
        "--outputs",
        "200",
        "--weight-density",
        "0.2",
        "--activation-density",
        "0.4",
        "--pes",
        "8",
        "--engine",
        "des",
        "--json",
        str(path),
        "--no-progress",
    )
    assert code == 0, err
    assert "matches_ref" in out and "pe.arith.mac" in out
    data = json.loads(path.read_text())
    assert {"workload", "config", "layers", "totals"} <= set(data)
    layer = data["layers"][0]
    for key in (
        "name",
        "cycles",
        "time_us",
        "load_balance_efficiency",
        "counts",
        "outputs_match_reference",
    ):
        assert key in layer
    assert layer["outputs_match_reference"] is True
    assert data["config"]["num_pes"] == 8
    assert layer["time_us"] == pytest.approx(layer["cycles"] / 800.0)
    assert data["totals"]["cycles"] == layer["cycles"]
    assert layer["unit_kind"] == "PE" and len(layer["unit_cycles"]["busy"]) == 8


def test_engines_print_the_same_numbers(capsys, tmp_path):
    results = {}
    for engine in ("des", "fast"):
        path = tmp_path / f"{engine}.json"
        code, _, err = run(
            capsys,
            "run",
            "--workload",
            "neuraltalk-lstm",
            "--pes",
            "16",
            "--queue-depth",
            "4",
            "--engine",
            engine,
            "--json",
            str(path),
        )
        assert code == 0, err
        results[engine] = json.loads(path.read_text())
    des, fast = results["des"]["layers"][0], results["fast"]["layers"][0]
    assert des["cycles"] == fast["cycles"]
    assert des["counts"] == fast["counts"]
    assert des["outputs"] == fast["outputs"]


def test_config_yaml(capsys, tmp_path):
    cfg = tmp_path / "eie.yaml"
    cfg.write_text("arch: eie\nnum_pes: 4\nact_queue_depth: 3\n")
    path = tmp_path / "out.json"
    code, _, err = run(
        capsys,
        "run",
        "--workload",
        "neuraltalk-lstm",
        "--config",
        str(cfg),
        "--pes",
        "8",
        "--json",
        str(path),
    )
    assert code == 0, err
    config = json.loads(path.read_text())["config"]
    assert config["num_pes"] == 8 and config["act_queue_depth"] == 3  # flag beats file


BAD = [
    (["run", "--workload", "nope"], "unknown workload 'nope'; allowed: alexnet-fc6"),
    (["run", "--workload", "alexnet-fc8", "--pes", "0"], "num_pes must be in [1, 4096]"),
    (["run", "--workload", "alexnet-fc8", "--pes", "-3"], "num_pes must be in [1, 4096]"),
    (["run", "--workload", "alexnet-fc8", "--queue-depth", "0"], "act_queue_depth must be"),
    (["run", "--workload", "alexnet-fc8", "--queue-depth", "1"], "holds no entry"),
    (
        [
            "run",
            "--inputs",
            "10",
            "--outputs",
            "10",
            "--weight-density",
            "1.5",
            "--activation-density",
            "0.3",
        ],
        "weight_density must be a number in [0, 1]",
    ),
    (
        [
            "run",
            "--inputs",
            "0",
            "--outputs",
            "10",
            "--weight-density",
            "0.5",
            "--activation-density",
            "0.3",
        ],
        "inputs must be an integer >= 1",
    ),
    (
        [
            "run",
            "--inputs",
            "10",
            "--outputs",
            "10",
            "--weight-density",
            "0.5",
            "--activation-density",
            "-0.1",
        ],
        "activation_density must be a number in [0, 1]",
    ),
    (["run", "--inputs", "10", "--outputs", "10"], "no workload"),
    (["run", "--workload", "alexnet-fc8", "--inputs", "10"], "not both"),
    (["run"], "no workload"),
    (["run", "--pes", "x", "--workload", "alexnet-fc8"], "--pes: expected an integer"),
    (["run", "--workload", "alexnet-fc8", "--engine", "gpu"], "invalid choice: 'gpu'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["archs", "tpu"], "unknown arch 'tpu'; allowed: eie, stc, dense-tc, dense"),
    (["run", "--workload", "alexnet-fc6", "--pes", "4"], "sparse-matrix SRAM"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, argv, message):
    out_json = tmp_path / "never.json"
    code, _, err = run(capsys, *argv, *(["--json", str(out_json)] if argv[0] == "run" else []))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("eie-sim: error: ")
    assert message in lines[0]
    assert "Traceback" not in err
    assert not out_json.exists()


def test_bad_config_files(capsys, tmp_path):
    cases = {
        "unknown.yaml": ("num_pes: 4\nwarp_drive: 9\n", "unknown eie config key(s) warp_drive"),
        "malformed.yaml": ("num_pes: [4\n", "is not valid YAML"),
        "list.yaml": ("- 1\n- 2\n", "must be a YAML mapping"),
        "badvalue.yaml": ("clock_mhz: fast\n", "clock_mhz must be a number"),
    }
    for name, (text, message) in cases.items():
        cfg = tmp_path / name
        cfg.write_text(text)
        code, _, err = run(capsys, "run", "--workload", "alexnet-fc8", "--config", str(cfg))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (name, err)
    code, _, err = run(
        capsys, "run", "--workload", "alexnet-fc8", "--config", str(tmp_path / "missing.yaml")
    )
    assert code == 2 and "cannot read config" in err


def test_unwritable_json_path_fails_before_running(capsys, tmp_path):
    code, out, err = run(
        capsys,
        "run",
        "--workload",
        "alexnet-fc8",
        "--json",
        str(tmp_path / "no" / "such" / "dir.json"),
    )
    assert code == 2 and "does not exist" in err and out == ""
    code, _, err = run(capsys, "run", "--workload", "alexnet-fc8", "--json", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_existing_json_survives_a_failed_run(capsys, tmp_path):
    path = tmp_path / "keep.json"
    path.write_text('{"precious": true}')
    code, _, _ = run(capsys, "run", "--workload", "alexnet-fc8", "--pes", "0", "--json", str(path))
    assert code == 2
    assert json.loads(path.read_text()) == {"precious": True}


def test_console_script_entry_point():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "eie_sim.cli", "run", "--workload", "zzz"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "eie-sim: error: unknown workload 'zzz'; allowed: "
        + ", ".join(__import__("eie_sim.workloads").workloads.workload_names())
    )


def test_archs_lists_every_registered_architecture_with_its_fields(capsys):
    import dataclasses

    from eie_sim.registry import ACCELERATORS

    code, out, _ = run(capsys, "archs")
    assert code == 0
    flat = " ".join(out.split())  # descriptions wrap to the terminal
    for name, acc in ACCELERATORS.items():
        assert f"{name}: {acc.label}" in out
        assert f"compute unit {acc.unit_kind}; segment {acc.segment_kind}" in out
        assert " ".join(acc.description.split()) in flat
        for f in dataclasses.fields(acc.config):
            assert " ".join(f.metadata["doc"].split()) in flat, f.name
            assert f"\n  {f.name} " in out, f.name
    assert "num_pes --pes 64 PEs range [1, 4096]" in flat
    assert "act_queue_model --queue-model circular one of circular, counter" in flat
    assert "presets a100, h100, iso-eie" in out
    code, out, _ = run(capsys, "archs", "stc")
    assert code == 0 and out.startswith("stc: ") and "\neie: " not in out
    code, out, _ = run(capsys, "archs", "--json")
    data = json.loads(out)
    assert [a["name"] for a in data] == list(ACCELERATORS)
    stc = next(a for a in data if a["name"] == "stc")
    assert stc["presets"] == ["a100", "h100", "iso-eie"] and stc["engines"] == ["des", "fast"]
    assert (stc["unit_kind"], stc["segment_kind"]) == ("tensor core", "wave")
    pes = next(f for f in data[0]["fields"] if f["name"] == "num_pes")
    assert (pes["flag"], pes["unit"], pes["default"], pes["lo"], pes["hi"]) == (
        "--pes", "PEs", 64, 1, 4096)
    for acc in data:
        assert [f["name"] for f in acc["fields"]] == [
            f.name for f in dataclasses.fields(ACCELERATORS[acc["name"]].config)]
    code, out, err = run(capsys, "archs", "tpu")
    assert code == 2 and out == "" and err.startswith("eie-sim: error: unknown arch 'tpu'")


def _help(command: str) -> str:
    from eie_sim.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices[command]
    return " ".join(sub.format_help().split())


def test_every_config_field_of_every_arch_is_a_flag_with_its_metadata(capsys):
    import dataclasses

    from eie_sim.registry import ACCELERATORS

    for command in ("run", "sweep"):
        flat = _help(command)
        for acc in ACCELERATORS.values():
            for f in dataclasses.fields(acc.config):
                flag = "--" + (f.metadata["flag"] or f.name.replace("_", "-"))
                assert f"{flag} " in flat, (command, flag)
                assert " ".join(f.metadata["doc"].split()) in flat, (command, f.name)
    flat = _help("run")
    # --queue-depth: EIE and the dense array share one field, ESE's differs in text and range
    assert ("activation queue (FIFO) slots per PE [slots] (eie, dense); activation queue (FIFO) "
            "slots per PE; a circular buffer holding depth - 1 entries (as EIE) [slots] (ese); "
            "default 8; range [1, 1048576] (eie, dense); range [2, 1048576] (ese)") in flat
    assert "default 800 (eie, dense); 1410 (stc, dense-tc)" in flat  # clock per arch
    # a shared flag whose fields differ: each description with its archs
    assert ("DRAM bandwidth for weight streaming [GB/s] (eie, dense); global memory (DRAM / "
            "HBM) bandwidth shared by all SMs [GB/s] (stc, dense-tc); DRAM bandwidth of the "
            "weight stream (one DDR3-1600 64-bit channel) [GB/s] (ese); default 25.6 (eie, "
            "dense); 1555 (stc, dense-tc); 12.8 (ese)") in flat
    assert "--weights-from {sram,dram,auto}" in flat  # every arch's choices
    assert "a named machine: a100, h100, iso-eie (stc, dense-tc)" in flat
    assert "--arch {" + ",".join(ACCELERATORS) + "}" in flat


def test_the_user_relied_flags_are_pinned_in_the_metadata():
    import dataclasses

    from eie_sim.registry import ACCELERATORS

    pinned = {"num_pes": "pes", "act_queue_depth": "queue-depth",
              "act_queue_model": "queue-model", "clock_mhz": "clock-mhz",
              "sram_capacity": "sram-capacity", "weights_from": "weights-from",
              "dram_bandwidth_gbps": "dram-gbps", "mem_bandwidth_gbps": "dram-gbps",
              "pattern": "pattern", "batch": "batch", "dtype": "dtype"}
    seen = set()
    for acc in ACCELERATORS.values():
        for f in dataclasses.fields(acc.config):
            if f.name in pinned:
                assert f.metadata["flag"] == pinned[f.name], (acc.name, f.name)
                seen.add(f.name)
    assert seen == set(pinned)


def test_a_choice_only_one_arch_has_reaches_that_arch(capsys, tmp_path):
    path = tmp_path / "d.json"
    code, _, err = run(capsys, "run", "--arch", "dense", "--workload", "alexnet-fc8",
                       "--weights-from", "auto", "--json", str(path))
    assert code == 0, err
    assert json.loads(path.read_text())["config"]["weights_from"] == "auto"
    code, out, err = run(capsys, "run", "--workload", "alexnet-fc8", "--weights-from", "auto")
    assert code == 2 and out == ""
    assert err == "eie-sim: error: weights_from must be one of 'sram', 'dram', got 'auto'\n"


def test_a_flag_of_another_arch_is_a_one_line_error(capsys, tmp_path):
    code, out, err = run(capsys, "run", "--workload", "alexnet-fc8", "--batch", "8")
    assert code == 2 and out == ""
    assert err.startswith("eie-sim: error: --batch does not apply to arch eie; its flags: --pes")
    assert "--queue-depth" in err and "--smem-bpc" not in err
    assert len(err.splitlines()) == 1
    code, out, err = run(capsys, "run", "--arch", "stc", "--workload", "alexnet-fc8", "--pes", "8")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("eie-sim: error: --pes does not apply to arch stc; its flags: ")
    assert "--batch" in err and "--queue-depth" not in err
    code, out, err = run(capsys, "sweep", "--arch", "eie,dense", "--workload", "alexnet-fc8",
                         "--batch", "1,8", "--out", str(tmp_path / "sw"))
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("eie-sim: error: --batch does not apply to arch eie, dense; their "
                          "flags: --pes")
    assert not (tmp_path / "sw").exists()


def test_tensor_core_flags_reach_the_config(capsys, tmp_path):
    path = tmp_path / "tc.json"
    code, _, err = run(capsys, "run", "--arch", "stc", "--preset", "iso-eie", "--workload",
                       "alexnet-fc8", "--batch", "3", "--dtype", "int8", "--pattern", "1:4",
                       "--dram-gbps", "51.2", "--json", str(path))
    assert code == 0, err
    data = json.loads(path.read_text())
    cfg = data["config"]
    assert (cfg["batch"], cfg["dtype"], cfg["pattern"], cfg["mem_bandwidth_gbps"]) == (
        3, "int8", "1:4", 51.2)
    assert data["machine"].startswith("iso-EIE tensor core 1:4 int8, 45 nm, 800 MHz, batch 3")
    assert data["layers"][0]["unit_kind"] == "tensor core"


def test_python_dash_m_help_and_version(capsys):
    import subprocess
    import sys

    from eie_sim import __version__

    proc = subprocess.run([sys.executable, "-m", "eie_sim", "--version"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == (
        f"eie-sim {__version__} (compiled loops)")
    proc = subprocess.run([sys.executable, "-m", "eie_sim", "--help"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("usage: eie-sim ")
    for command in ("run", "compare", "sweep", "plot", "validate", "workloads", "archs"):
        assert f"\n    {command}  " in proc.stdout, command  # name and help on one line
    proc = subprocess.run([sys.executable, "-m", "eie_sim", "plot", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    for kind in ("pe-sweep", "queue-depth", "energy-vs-sparsity", "energy-breakdown", "compare"):
        assert kind in proc.stdout


@pytest.mark.parametrize("argv", [
    ["run", "--help"], ["sweep", "--help"], ["compare", "--help"], ["plot", "--help"],
    ["archs", "--help"], ["run", "--pes", "x"], ["run", "--bogus"], ["run", "--version"],
    ["run", "--workload", "alexnet-fc8", "extra"], ["run", "--arch", "tpu"],
    ["run", "--weights"], ["sweep", "--out", "d", "--pes", "1,x"], ["validate", "--max-memory",
    "lots"], ["archs", "eie", "--json"], ["run", "--workload", "alexnet-fc8", "--pes", "8",
    "--max-memory", "8G", "--json", "-"], ["run", "--weights-f", "dram"]])
def test_a_command_parsed_by_its_parser_alone_as_by_the_full_parser(argv, capsys):
    """main builds only the named command's parser: same arguments, help and errors."""
    from eie_sim.cli import build_parser
    from eie_sim.errors import EieSimError

    def outcome(parser):
        try:
            return "args", vars(parser.parse_args(argv))
        except SystemExit as exit_:
            return "exit", exit_.code, capsys.readouterr()
        except EieSimError as err:
            return "error", str(err)

    alone = outcome(build_parser(argv[0]))
    assert alone == outcome(build_parser())
    assert len(build_parser(argv[0])._subparsers._group_actions[0].choices) == 1


def test_commands_import_only_what_they_use():
    """Start-up: help and the fast engine load neither SimPy nor matplotlib nor dask."""
    import subprocess
    import sys

    heavy = ("simpy", "matplotlib", "dask")
    commands = [["--help"], ["run", "--help"], ["sweep", "--help"], ["plot", "--help"],
                ["archs"], ["workloads"], ["run", "--workload", "alexnet-fc8", "--no-progress"],
                ["run", "--arch", "stc", "--workload", "alexnet-fc8", "--no-progress"]]
    code = ("import contextlib, io, sys\n"
            "from eie_sim.cli import main\n"
            f"for argv in {commands!r}:\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n"
            "            rc = main(argv)\n"
            "        except SystemExit as e:\n"
            "            rc = e.code\n"
            f"    print(argv, rc, [m for m in {heavy!r} if m in sys.modules])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    assert len(lines) == len(commands), proc.stderr
    for argv, line in zip(commands, lines, strict=True):
        assert line == f"{argv!r} 0 []", line


def test_a_run_in_a_fresh_process_imports_only_what_it_uses(tmp_path):
    """``eie-sim run --workload alexnet-fc8 --json`` on the fast engine, whole process: no
    SimPy, matplotlib, Dask, tqdm (--no-progress) and, once the cache holds its energy table,
    no PyYAML."""
    import os
    import subprocess
    import sys

    unused = ("simpy", "matplotlib", "dask", "tqdm", "yaml")
    argv = ["run", "--workload", "alexnet-fc8", "--json", str(tmp_path / "o.json"),
            "--no-progress"]
    code = (f"import sys\nfrom eie_sim.cli import main\nrc = main({argv!r})\n"
            f"print(rc, sorted({{m.split('.')[0] for m in sys.modules}} & set({unused!r})))\n")
    env = {k: v for k, v in os.environ.items() if k != "EIE_SIM_ACCELERATOR"}
    env["EIE_SIM_CACHE_DIR"] = str(tmp_path / "cache")
    lines = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env).stdout.splitlines()[-1] for _ in range(2)]
    assert lines[0] in ("0 []", "0 ['yaml']")  # the first run caches the parsed table
    assert lines[1] == "0 []"


def test_report_is_a_library_and_its_columns_are_neutral():
    from eie_sim.config import STCConfig
    from eie_sim.report import format_run
    from eie_sim.simulate import simulate
    from eie_sim.workloads import get_workload

    result = simulate(STCConfig.preset("iso-eie"), get_workload("alexnet-fc8"))
    text = format_run(result)
    assert text.startswith(f"workload alexnet-fc8 on {result.machine}, engine fast\n")
    header = text.splitlines()[2].split()
    assert header == ["layer", "size", "weights", "acts", "cycles", "time_us", "load_bal", "util",
                      "mac_util", "matches_ref"]
    assert "util: busy / all tensor core cycles" in text
    assert "tc.mma" in text and "energy (" in text and "memory traffic" in text


def _accuracy_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("accuracy on "))


@pytest.mark.slow
def test_digits_run_prints_the_accuracy_of_the_model_it_simulated(capsys, tmp_path):
    from eie_sim.workloads import get_workload

    path = tmp_path / "d.json"
    code, out, err = run(capsys, "run", "--workload", "digits-mlp", "--json", str(path),
                         "--no-progress")
    assert code == 0, err
    acc = json.loads(path.read_text())["info"]["accuracy"]
    assert _accuracy_line(out) == (f"accuracy on 360 test images: float "
                                   f"{acc['float_accuracy']:.1%}, simulated "
                                   f"{acc['simulated_accuracy']:.1%}")
    # the evaluation is of the same model (seed) as the simulated workload
    assert acc["float_accuracy"] == get_workload("digits-mlp").info["float_accuracy"]
    assert acc["outputs_match_reference"] is True


def test_digits_run_on_a_tensor_core_evaluates_its_pattern_in_one_batch(capsys, tmp_path):
    path = tmp_path / "d.json"
    code, out, err = run(capsys, "run", "--arch", "stc", "--preset", "iso-eie", "--workload",
                         "digits-mlp", "--pattern", "1:4", "--json", str(path), "--no-progress")
    assert code == 0, err
    acc = json.loads(path.read_text())["info"]["accuracy"]
    assert acc["pattern"] == "1:4" and acc["images"] == 360
    assert 0.8 <= acc["simulated_accuracy"] <= 1.0
    assert _accuracy_line(out) == (
        "accuracy on 360 test images (model pruned 1:4 and fine-tuned, all images as one "
        f"batch): float {acc['float_accuracy']:.1%}, simulated {acc['simulated_accuracy']:.1%}")


def test_compare_modes_print_machines_bounds_and_write_csv(capsys, tmp_path):
    import csv

    path = tmp_path / "cmp.csv"
    code, out, err = run(capsys, "compare", "--workload", "alexnet-fc8", "--mode", "iso",
                         "--batch", "1,8", "--csv", str(path))
    assert code == 0, err
    assert "mode iso" in out and "iso-EIE tensor core 2:4 fp16, 45 nm" in out
    assert "bound" in out and "of_peak" in out
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 4 * 2 and all(r["machine"] for r in rows)
    assert {r["energy_table"] for r in rows} == {"45nm"}


def test_json_to_stdout_is_pure_json_and_the_report_goes_to_stderr(capsys):
    code, out, err = run(capsys, "run", "--workload", "alexnet-fc8", "--pes", "16", "--json", "-",
                         "--no-progress")
    assert code == 0
    data = json.loads(out)  # nothing but the JSON on stdout
    assert data["layers"][0]["name"] == "alexnet-fc8"
    assert "workload alexnet-fc8 on EIE 16 PE" in err and "cycles" in err


def test_csv_has_one_flat_row_per_layer(capsys, tmp_path):
    import csv

    path = tmp_path / "layers.csv"
    code, out, _ = run(capsys, "run", "--workload", "alexnet", "--csv", str(path),
                       "--json", str(tmp_path / "r.json"), "--no-progress")
    assert code == 0 and "total" in out
    rows = list(csv.DictReader(path.open()))
    result = json.loads((tmp_path / "r.json").read_text())
    assert [r["layer"] for r in rows] == [lr["name"] for lr in result["layers"]]
    for row, lr in zip(rows, result["layers"], strict=True):
        assert int(row["cycles"]) == lr["cycles"]
        assert int(row["unit_busy_cycles"]) == sum(lr["unit_cycles"]["busy"])
        assert float(row["energy_pj"]) == pytest.approx(lr["energy_pj"]["total"])
        assert int(row["counts.pe.arith.mac"]) == lr["counts"]["pe.arith.mac"]
        assert float(row["traffic.dram.read"]) == lr["traffic_bytes"]["dram"]["read"]
    assert all("{" not in v for r in rows for v in r.values())  # flat: no nested values
    code, out, err = run(capsys, "run", "--workload", "alexnet-fc8", "--csv", "-",
                         "--no-progress")
    assert code == 0 and out.startswith("workload,arch,machine,") and len(out.splitlines()) == 2
    code, out, err = run(capsys, "run", "--workload", "alexnet-fc8", "--csv", "-", "--json", "-")
    assert code == 2 and out == "" and "only one output can go to stdout" in err


@pytest.mark.parametrize("command", ["run", "compare", "sweep", "plot", "validate", "workloads",
                                     "archs", "report"])
def test_every_command_shows_examples_in_its_help(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    examples = out[out.index("examples:"):].splitlines()[1:]
    assert examples and all(line.strip().startswith("eie-sim ") for line in examples if line)
