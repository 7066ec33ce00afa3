"""Bad input, everywhere: the catalogue of docs/BAD_INPUT.md, row by row, through the CLI.

Every row must give exit code 2 and exactly one stderr line ``eie-sim: error: ...`` that names
the problem and what is allowed, with no traceback, nothing on stdout, no file at the ``--json``
path (an existing one left byte-identical), no ``*.tmp`` left behind, and, for sweeps, every
file of an earlier good sweep in the ``--out`` directory intact.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from eie_sim.cli import main

PREFIX = "eie-sim: error: "
SENTINEL = b'{"an earlier result": true}\n'
HAS_PLOTS = importlib.util.find_spec("eie_sim.plots") is not None
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

ENERGY_OK_HEAD = "name: mine\nsram: {read_pj_by_capacity_bytes: {1024: 1.0}}\n"


def _alias_bomb(levels: int, width: int = 9) -> str:
    """Billion laughs: each level a list of ``width`` aliases of the one before."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _nested_value(levels: int) -> str:
    """``num_pes:`` a list of lists (``levels`` deep, 10 wide at each level) built from
    aliases: about 10**levels values in a few hundred bytes, below the expansion bound."""
    inner = "&x1 [" + ", ".join(["1"] * 10) + "]"
    for i in range(2, levels + 1):
        inner = f"&x{i} [{inner}" + f", *x{i - 1}" * 9 + "]"
    return f"num_pes: {inner}\n"


HOSTILE_TEXTS = {
    "bomb.yaml": _alias_bomb(10),  # 9**10 values: the 600-byte bomb that never returned
    "fat_value.yaml": _nested_value(4),  # 10,000 values: the 3 MB "one-line" error
    "deep.yaml": "num_pes: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "recursive.yaml": "num_pes: &a [*a]\n",
    "duplicate.yaml": "num_pes: 8\nnum_pes: 16\n",
    "octal.yaml": "num_pes: 010\n",
    "swap.yaml": "batch_swap_cycles: 4611686018427387904\n",
    "long_string.yaml": "energy_table: " + "x" * 2000 + ".yaml\n",
    "e_width0.yaml": "name: mine\nsram: {read_pj_by_capacity_bytes: {1024: 1.0}, "
                     "reference_width_bits: 0}\nunits: {}\n",
    "e_tech_abc.yaml": ENERGY_OK_HEAD + "technology_nm: abc\nunits: {}\n",
    "e_negative_sram_leakage.yaml": "name: mine\nsram: {read_pj_by_capacity_bytes: {1024: 1.0}, "
                                    "leakage_mw_per_kib: -1}\nunits: {}\n",
    "e_negative_leakage.yaml": ENERGY_OK_HEAD
    + "units: {pe.arith: {leakage_mw: {value: -1, source: me}}}\n",
    "e_nan_capacity.yaml": "name: mine\nsram: {read_pj_by_capacity_bytes: {.nan: 1.0}}\n"
                           "units: {}\n",
    "e_nan_ratio.yaml": "name: mine\nsram: {read_pj_by_capacity_bytes: {1024: 1.0}, "
                        "write_to_read_ratio: .nan}\nunits: {}\n",
    "e_duplicate.yaml": ENERGY_OK_HEAD + "name: again\nunits: {}\n",
    "e_bomb.yaml": _alias_bomb(10) + ENERGY_OK_HEAD,
}


# ----------------------------------------------------------------------------- input files
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Every bad (and a few good) input files, once per module."""
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    w = rng.standard_normal((20, 30))
    w[np.abs(w) < 1.0] = 0.0
    np.savez(d / "good.npz", w=w, b=np.zeros(20), w3=np.zeros((2, 2, 2)), bshort=np.zeros(5),
             s=np.array(["a", "b"]))
    w_nan = w.copy()
    w_nan[0, 0] = np.nan
    np.savez(d / "nan.npz", w=w_nan)
    w_inf = w.astype(np.float32)
    w_inf[1, 2] = np.inf
    save_file({"w": w_inf}, str(d / "inf.safetensors"))
    save_file({"w": w.astype(np.float32)}, str(d / "good.safetensors"))
    np.savez(d / "nanbias.npz", w=w, b=np.full(20, np.nan))
    acts = np.abs(rng.standard_normal(30))
    np.save(d / "acts.npy", acts)
    a_nan = acts.copy()
    a_nan[3] = np.nan
    np.save(d / "nan.npy", a_nan)
    np.save(d / "short.npy", np.ones(7))
    np.save(d / "huge.npy", np.full(30, 1000.0))
    (d / "corrupt.npy").write_bytes(b"\x93NUMPY garbage")
    (d / "corrupt.npz").write_bytes(b"PK\x03\x04garbage" * 10)
    (d / "corrupt.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    (d / "w.pt").write_bytes(b"not a weights file")
    (d / "afile").write_text("a file, not a directory\n")
    texts = {
        "malformed.yaml": "num_pes: [1,\n",
        "list.yaml": "- num_pes\n- 4\n",
        "unknown_key.yaml": "num_pes: 16\nfoo: 1\n",
        "range.yaml": "num_pes: 0\n",
        "type.yaml": "num_pes: four\n",
        "bool.yaml": "input_relu: 1\n",
        "arch_tpu.yaml": "arch: tpu\n",
        "arch_dense.yaml": "arch: dense\nnum_pes: 16\n",
        "e_malformed.yaml": "name: x\nsram: [\n",
        "e_unknown_key.yaml": ENERGY_OK_HEAD + "units: {}\nfoo: 1\n",
        "e_unknown_unit.yaml": ENERGY_OK_HEAD + "units: {warp: {}}\n",
        "e_unknown_action.yaml": ENERGY_OK_HEAD
        + "units: {pe.arith: {fly: {pj: 1.0, source: me}}}\n",
        "e_missing_price.yaml": ENERGY_OK_HEAD + "units: {}\n",
        "e_nan_price.yaml": ENERGY_OK_HEAD + "units: {pe.arith: {mac: {pj: .nan, source: me}}}\n",
        "e_negative_price.yaml": ENERGY_OK_HEAD
        + "units: {pe.arith: {mac: {pj: -1, source: me}}}\n",
    }
    for name, text in texts.items():
        (d / name).write_text(text)
    (d / "binary.yaml").write_bytes(b"num_pes: \xff\xfe\n")
    (d / "e_binary.yaml").write_bytes(b"name: \xff\xfe\n")
    # hostile inputs (issue 15): resources, not just values
    for name, text in HOSTILE_TEXTS.items():
        (d / name).write_text(text)
    (d / "huge.yaml").write_text("# padding\n" * (110_000))  # > 1 MiB
    os.mkfifo(d / "fifo.yaml")
    import io
    import zipfile

    header = io.BytesIO()  # an .npz that declares 200000 x 200000 float32 in a few bytes
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (200_000, 200_000)})
    with zipfile.ZipFile(d / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("w.npy", header.getvalue() + bytes(4096))
    return d


# ----------------------------------------------------------------------------- the catalogue
def xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


def case(id_, argv, *words, marks=()):
    return pytest.param(argv, words, id=id_, marks=marks)


# `run` and `compare` rows: argv templates ({d} = the input-file directory), then the words the
# error line must contain (the problem and what is allowed). Each row also gets --json PATH.
RUN_CASES = [
    # architecture config YAML
    case("config-malformed-yaml", "run --workload alexnet-fc8 --config {d}/malformed.yaml",
         "is not valid YAML", "line 2"),
    case("config-not-a-mapping", "run --workload alexnet-fc8 --config {d}/list.yaml",
         "must be a YAML mapping of field: value"),
    case("config-unknown-key", "run --workload alexnet-fc8 --config {d}/unknown_key.yaml",
         "unknown eie config key(s) foo", "allowed: num_pes, clock_mhz"),
    case("config-out-of-range", "run --workload alexnet-fc8 --config {d}/range.yaml",
         "num_pes must be in [1, 4096]", "got 0"),
    case("config-wrong-type", "run --workload alexnet-fc8 --config {d}/type.yaml",
         "num_pes must be an integer", "'four'"),
    case("config-wrong-type-bool", "run --workload alexnet-fc8 --config {d}/bool.yaml",
         "input_relu must be true or false", "got 1"),
    case("config-unknown-arch", "run --workload alexnet-fc8 --config {d}/arch_tpu.yaml",
         "unknown arch 'tpu'", "allowed: eie, stc, dense-tc, dense"),
    case("config-arch-mismatch", "run --workload alexnet-fc8 --config {d}/arch_dense.yaml",
         "--config describes arch 'dense'", "--arch is 'eie'"),
    case("config-missing-file", "run --workload alexnet-fc8 --config {d}/missing.yaml",
         "cannot read config", "No such file"),
    case("config-not-utf8", "run --workload alexnet-fc8 --config {d}/binary.yaml",
         "is not a UTF-8 text file"),
    case("unknown-arch", "run --workload alexnet-fc8 --arch tpu",
         "--arch", "invalid choice: 'tpu'", "'eie', 'stc', 'dense-tc', 'dense'"),
    case("flag-of-another-arch", "run --workload alexnet-fc8 --batch 8",
         "--batch does not apply to arch eie", "its flags: --pes, --clock-mhz"),
    case("pe-flag-on-a-tensor-core", "run --arch stc --workload alexnet-fc8 --queue-depth 4",
         "--queue-depth does not apply to arch stc", "its flags: --clock-mhz"),
    case("choice-of-another-arch", "run --workload alexnet-fc8 --weights-from auto",
         "weights_from must be one of 'sram', 'dram'", "got 'auto'"),
    case("bool-flag-not-a-bool", "run --workload alexnet-fc8 --input-relu maybe",
         "argument --input-relu", "expected true or false, got 'maybe'"),
    case("preset-on-an-arch-without-presets", "run --workload alexnet-fc8 --preset a100",
         "--preset applies to stc, dense-tc", "not eie"),
    case("unknown-preset", "run --arch stc --workload alexnet-fc8 --preset v100",
         "unknown preset 'v100' for arch stc", "allowed: a100, h100, iso-eie"),
    case("bad-nm-pattern", "run --arch stc --workload alexnet-fc8 --pattern 5:4",
         "pattern must be 'N:M' with 1 <= N < M", "e.g. 2:4"),
    # energy tables
    case("energy-malformed-yaml", "run --workload alexnet-fc8 --energy {d}/e_malformed.yaml",
         "energy table", "is not valid YAML"),
    case("energy-unknown-key", "run --workload alexnet-fc8 --energy {d}/e_unknown_key.yaml",
         "energy table", "unknown key(s) foo", "allowed: description, name, sram"),
    case("energy-unknown-unit", "run --workload alexnet-fc8 --energy {d}/e_unknown_unit.yaml",
         "unknown unit 'warp'", "allowed: ", "ccu, dram"),
    case("energy-unknown-action",
         "run --workload alexnet-fc8 --energy {d}/e_unknown_action.yaml",
         "unknown action pe.arith.fly", "allowed for pe.arith: bypass, leakage_mw, mac"),
    case("energy-missing-price",
         "run --workload alexnet-fc8 --energy {d}/e_missing_price.yaml",
         "has no price for ccu.broadcast", "add ccu: {broadcast: {pj:"),
    case("energy-nan-price", "run --workload alexnet-fc8 --energy {d}/e_nan_price.yaml",
         "pe.arith.mac needs a finite pj >= 0", "got nan"),
    case("energy-negative-price",
         "run --workload alexnet-fc8 --energy {d}/e_negative_price.yaml",
         "pe.arith.mac needs a finite pj >= 0", "got -1"),
    case("energy-unknown-preset", "run --workload alexnet-fc8 --energy 3nm",
         "energy table '3nm' is neither a preset (45nm, 7nm, gpu-7nm) nor a readable file"),
    case("energy-not-utf8", "run --workload alexnet-fc8 --energy {d}/e_binary.yaml",
         "energy table", "UTF-8"),
    # weights and activations
    case("weights-nan-npz", "run --weights {d}/nan.npz --tensor w --activations {d}/acts.npy",
         "tensor 'w' contains NaN or infinity"),
    case("weights-inf-safetensors",
         "run --weights {d}/inf.safetensors --tensor w --activations {d}/acts.npy",
         "tensor 'w' contains NaN or infinity"),
    case("bias-nan", "run --weights {d}/nanbias.npz --tensor w --bias-tensor b "
         "--activations {d}/acts.npy", "tensor 'b' contains NaN or infinity"),
    case("activations-nan-npy",
         "run --weights {d}/good.safetensors --tensor w --activations {d}/nan.npy",
         "nan.npy contain NaN or infinity"),
    case("activations-out-of-range",
         "run --weights {d}/good.npz --tensor w --activations {d}/huge.npy",
         "exceed the Q7.8 range (|a| <=", "scale them"),
    case("weights-not-2d", "run --weights {d}/good.npz --tensor w3 --activations {d}/acts.npy",
         "tensor 'w3' has shape (2, 2, 2)", "allowed: 2-D (outputs, inputs)"),
    case("weights-1d", "run --weights {d}/good.npz --tensor b --activations {d}/acts.npy",
         "tensor 'b' has shape (20,)", "allowed: 2-D"),
    case("bias-length", "run --weights {d}/good.npz --tensor w --bias-tensor bshort "
         "--activations {d}/acts.npy", "bias 'bshort' has shape (5,)", "has 20 outputs"),
    case("activations-length", "run --weights {d}/good.npz --tensor w --activations {d}/short.npy",
         "have shape (7,)", "takes 30 inputs"),
    case("unknown-tensor", "run --weights {d}/good.npz --tensor fc9 --activations {d}/acts.npy",
         "tensor 'fc9' not in", "available: b, bshort, s, w, w3"),
    case("tensor-not-numeric", "run --weights {d}/good.npz --tensor s --activations {d}/acts.npy",
         "tensor 's' has dtype <U1", "allowed: float or integer"),
    case("weights-corrupt-npz",
         "run --weights {d}/corrupt.npz --tensor w --activations {d}/acts.npy",
         "cannot read weights file", "corrupt.npz"),
    case("weights-corrupt-safetensors",
         "run --weights {d}/corrupt.safetensors --tensor w --activations {d}/acts.npy",
         "cannot read weights file", "corrupt.safetensors"),
    case("weights-missing", "run --weights {d}/missing.npz --tensor w --activations {d}/acts.npy",
         "weights file", "missing.npz does not exist"),
    case("weights-wrong-suffix", "run --weights {d}/w.pt --tensor w --activations {d}/acts.npy",
         "has suffix '.pt'", "allowed: .npz, .safetensors"),
    case("activations-wrong-suffix",
         "run --weights {d}/good.npz --tensor w --activations {d}/good.npz",
         "activations file", "must be an existing .npy file"),
    case("activations-corrupt",
         "run --weights {d}/good.npz --tensor w --activations {d}/corrupt.npy",
         "cannot read activations file", "not a valid .npy file"),
    case("weights-without-activations", "run --weights {d}/good.npz --tensor w",
         "give the input activations as a .npy file or as a density", "exactly one"),
    case("prune-density-out-of-range", "run --weights {d}/good.npz --tensor w "
         "--activation-density 0.5 --prune-density 3", "prune density must be in [0, 1]",
         "got 3.0"),
    # PEs, queues, clock
    case("pes-zero", "run --workload alexnet-fc8 --pes 0", "num_pes must be in [1, 4096]",
         "got 0"),
    case("pes-negative", "run --workload alexnet-fc8 --pes -3", "num_pes must be in [1, 4096]",
         "got -3"),
    case("pes-too-many", "run --workload alexnet-fc8 --pes 5000",
         "num_pes must be in [1, 4096]", "got 5000"),
    case("pes-not-a-number", "run --workload alexnet-fc8 --pes four",
         "argument --pes", "expected an integer, got 'four'"),
    case("queue-depth-zero", "run --workload alexnet-fc8 --queue-depth 0",
         "act_queue_depth must be in [1, 1048576]", "got 0"),
    case("queue-depth-one-circular", "run --workload alexnet-fc8 --queue-depth 1",
         "act_queue_depth 1 holds no entry with the circular FIFO",
         "allowed: depth >= 2", "'counter'"),
    case("queue-model-unknown", "run --workload alexnet-fc8 --queue-model lifo",
         "argument --queue-model", "invalid choice: 'lifo'", "'circular', 'counter'"),
    case("clock-zero", "run --workload alexnet-fc8 --clock-mhz 0",
         "clock_mhz must be in [0.001, 100000.0]", "got 0.0"),
    case("clock-nan", "run --workload alexnet-fc8 --clock-mhz nan", "clock_mhz must be finite",
         "got nan"),
    case("dram-negative", "run --workload alexnet-fc8 --dram-gbps -1",
         "dram_bandwidth_gbps must be in [1e-06, 1000000.0]", "got -1.0"),
    # densities and synthetic layers
    case("weight-density-negative", "run --inputs 300 --outputs 200 --weight-density -0.1 "
         "--activation-density 0.4", "weight_density must be a number in [0, 1]", "got -0.1"),
    case("weight-density-above-one", "run --inputs 300 --outputs 200 --weight-density 1.5 "
         "--activation-density 0.4", "weight_density must be a number in [0, 1]", "got 1.5"),
    case("weight-density-not-a-number", "run --inputs 300 --outputs 200 --weight-density abc "
         "--activation-density 0.4", "argument --weight-density", "expected a number, got 'abc'"),
    case("weight-density-nan", "run --inputs 300 --outputs 200 --weight-density nan "
         "--activation-density 0.4", "weight_density must be a number in [0, 1]", "got nan"),
    case("activation-density-inf", "run --inputs 300 --outputs 200 --weight-density 0.2 "
         "--activation-density inf", "activation_density must be a number in [0, 1]", "got inf"),
    case("activation-density-own-weights", "run --weights {d}/good.npz --tensor w "
         "--activation-density 2", "activation density must be in [0, 1]", "got 2.0"),
    case("output-density-above-one", "run --inputs 300 --outputs 200 --weight-density 0.2 "
         "--activation-density 0.4 --output-density 7",
         "output_density must be a number in [0, 1]", "got 7.0"),
    case("inputs-zero", "run --inputs 0 --outputs 200 --weight-density 0.2 "
         "--activation-density 0.4", "inputs must be an integer >= 1", "got 0"),
    case("seed-negative", "run --workload alexnet-fc8 --seed -1",
         "seed must be an integer >= 0", "got -1"),
    # workloads
    case("unknown-workload", "run --workload alexnet-fc9",
         "unknown workload 'alexnet-fc9'", "allowed: alexnet-fc6, alexnet-fc7"),
    case("workload-and-synthetic", "run --workload alexnet-fc8 --inputs 3",
         "give either --workload or a synthetic layer", "not both"),
    case("workload-and-weights",
         "run --workload alexnet-fc8 --weights {d}/good.npz --tensor w --activations {d}/acts.npy",
         "give one of --workload, --weights or a synthetic layer"),
    case("no-workload", "run --pes 8", "no workload", "give --workload NAME"),
    # capacity
    case("layer-too-large-for-spmat-sram", "run --workload alexnet-fc8 --pes 4",
         "needs 258623 B of sparse-matrix SRAM per PE at 4 PEs", "131072 B available",
         "allowed: more PEs", "--weights-from dram", "'unbounded'"),
    case("dense-layer-too-large-for-weight-sram",
         "run --workload alexnet-fc8 --arch dense --weights-from sram --pes 4",
         "of weight SRAM per PE on the dense baseline", "allowed: weights_from 'auto' or 'dram'"),
    # compare
    case("compare-unknown-workload", "compare --workload nope",
         "unknown workload 'nope'", "allowed: alexnet-fc6"),
    case("compare-batch-zero", "compare --workload alexnet-fc8 --batch 0",
         "argument --batch: expected a comma-separated list of batch sizes >= 1", "got '0'"),
    case("compare-unknown-mode", "compare --workload alexnet-fc8 --mode equal",
         "argument --mode: invalid choice: 'equal'", "'as-built', 'iso'"),
    case("compare-missing-energy-price",
         "compare --workload alexnet-fc8 --energy {d}/e_missing_price.yaml",
         "has no price for ccu.broadcast", "add ccu:"),
    # hostile input, bounded resources (issue 15): config files
    case("config-alias-bomb", "run --workload alexnet-fc8 --config {d}/bomb.yaml",
         "expands to more than 20000 values", "aliases counted at full size",
         "allowed: at most 20000"),
    case("config-large-value-quoted-in-excerpt",
         "run --workload alexnet-fc8 --config {d}/fat_value.yaml",
         "num_pes must be an integer", "..."),
    case("config-nested-10000-deep", "run --workload alexnet-fc8 --config {d}/deep.yaml",
         "nested more than 64 levels deep", "allowed: at most 64"),
    case("config-recursive-alias", "run --workload alexnet-fc8 --config {d}/recursive.yaml",
         "has a recursive alias"),
    case("config-dev-zero", "run --workload alexnet-fc8 --config /dev/zero",
         "config /dev/zero is a character device", "allowed: a regular file"),
    case("config-fifo", "run --workload alexnet-fc8 --config {d}/fifo.yaml",
         "fifo.yaml is a FIFO (named pipe)", "allowed: a regular file"),
    case("config-directory", "run --workload alexnet-fc8 --config {d}",
         "is a directory", "allowed: a regular file"),
    case("config-too-large", "run --workload alexnet-fc8 --config {d}/huge.yaml",
         "huge.yaml is 1100000 bytes", "allowed: at most 1048576 bytes"),
    case("config-duplicate-key", "run --workload alexnet-fc8 --config {d}/duplicate.yaml",
         "has a duplicate key 'num_pes' at line 2", "allowed: each key once"),
    case("config-leading-zero", "run --workload alexnet-fc8 --config {d}/octal.yaml",
         "ambiguous number '010'", "allowed: 10 or 0o10"),
    case("config-int64-overflow", "run --workload alexnet-fc8 --config {d}/swap.yaml",
         "batch_swap_cycles must be in [0, 1048576]", "got 4611686018427387904"),
    case("config-string-too-long", "run --workload alexnet-fc8 --config {d}/long_string.yaml",
         "energy_table is 2005 characters long", "allowed: at most 1024"),
    case("clock-huge", "run --workload alexnet-fc8 --weights-from dram --clock-mhz 1e300",
         "clock_mhz must be in [0.001, 100000.0]", "got 1e+300"),
    case("clock-overflowing-to-infinity", "run --workload alexnet-fc8 --clock-mhz 1e308",
         "clock_mhz must be in [0.001, 100000.0]"),
    case("clock-infinite", "run --workload alexnet-fc8 --clock-mhz 1e999",
         "clock_mhz must be finite", "got inf"),
    case("seed-beyond-int64", "run --workload alexnet-fc8 --seed 99999999999999999999999",
         "argument --seed", "expected an integer in [-2**63, 2**63 - 1]"),
    # energy tables: every field, not only the prices
    case("energy-reference-width-zero", "run --workload alexnet-fc8 --energy {d}/e_width0.yaml",
         "sram reference_width_bits must be an integer in [1, 4096]", "got 0"),
    case("energy-technology-not-a-number",
         "run --workload alexnet-fc8 --energy {d}/e_tech_abc.yaml",
         "technology_nm must be a number in [1, 1000]", "got 'abc'"),
    case("energy-negative-sram-leakage",
         "run --workload alexnet-fc8 --energy {d}/e_negative_sram_leakage.yaml",
         "sram leakage_mw_per_kib must be a number in [0, 1e+09]", "got -1"),
    case("energy-negative-leakage",
         "run --workload alexnet-fc8 --energy {d}/e_negative_leakage.yaml",
         "pe.arith.leakage_mw needs a finite value >= 0", "got -1"),
    case("energy-nan-capacity", "run --workload alexnet-fc8 --energy {d}/e_nan_capacity.yaml",
         "sram capacity (bytes) must be a number in [1, ", "got nan"),
    case("energy-nan-write-ratio", "run --workload alexnet-fc8 --energy {d}/e_nan_ratio.yaml",
         "sram write_to_read_ratio must be a number in [0, 1000]", "got nan"),
    case("energy-duplicate-key", "run --workload alexnet-fc8 --energy {d}/e_duplicate.yaml",
         "has a duplicate key 'name' at line 3"),
    case("energy-alias-bomb", "run --workload alexnet-fc8 --energy {d}/e_bomb.yaml",
         "expands to more than 20000 values"),
    case("energy-dev-zero", "run --workload alexnet-fc8 --energy /dev/zero",
         "energy table /dev/zero is a character device", "allowed: a regular file"),
    case("energy-fifo", "run --workload alexnet-fc8 --energy {d}/fifo.yaml",
         "is a FIFO (named pipe)", "allowed: a regular file"),
    # sizes the guards accept but no machine can hold: refused by the memory estimates
    case("layer-larger-than-memory", "run --inputs 1000000000000 --outputs 1 "
         "--weight-density 0.1 --activation-density 0.5",
         "building layer 'synthetic-1000000000000x1'", "needs about", "more than the limit",
         "--max-memory"),
    case("dense-layer-larger-than-memory", "run --inputs 1048576 --outputs 1048576 "
         "--weight-density 1 --activation-density 0.5", "needs about", "more than the limit"),
    case("tensor-core-batch-larger-than-memory",
         "run --arch dense-tc --batch 1048576 --workload alexnet-fc8",
         "layer 'alexnet-fc8' (4096 x 1000) on arch dense-tc needs about", "more than the limit"),
    case("max-memory-refuses", "run --workload alexnet-fc8 --max-memory 16M",
         "needs about", "more than the limit 16 MiB"),
    case("max-memory-not-a-size", "run --workload alexnet-fc8 --max-memory lots",
         "argument --max-memory: expected a memory size, got 'lots'", "allowed:"),
    case("weights-declaring-terabytes",
         "run --weights {d}/bomb.npz --tensor w --activations {d}/acts.npy",
         "weights file", "bomb.npz (40000000000 elements) needs about", "more than the limit"),
    case("cycles-beyond-int64", "run --inputs 100000 --outputs 100000 --weight-density 1e-9 "
         "--activation-density 0.5 --clock-mhz 100000 --dram-gbps 0.000001 --weights-from dram",
         "could take up to", "beyond the 2**61 the counters hold", "allowed:"),
    case("weight-density-below-the-generator", "run --inputs 1000 --outputs 100 "
         "--weight-density 1e-19 --activation-density 0.5",
         "weight_density must be 0 or in [1e-12, 1]", "got 1e-19"),
]


def _argv(template: str, **paths) -> list[str]:
    return [token.format(**paths) for token in shlex.split(template)]


def _cli(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, out, err, words):
    assert "Traceback" not in err
    assert code == 2, err
    assert err.startswith(PREFIX), err
    assert err.endswith("\n") and err.count("\n") == 1, f"not exactly one line: {err!r}"
    assert len(err) < 2000, f"an error line of {len(err)} characters"
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"
    assert out == "", "a failing command printed results"


def no_tmp_files(*dirs: Path) -> None:
    for d in dirs:
        leftovers = [p for p in Path(d).rglob("*") if p.name.endswith(".tmp")]
        assert not leftovers, leftovers


@pytest.mark.parametrize("existing", [False, True], ids=["no-json-yet", "json-exists"])
@pytest.mark.parametrize("template, words", RUN_CASES)
def test_run_and_compare_catalogue(capsys, tmp_path, monkeypatch, files, template, words,
                                   existing):
    monkeypatch.chdir(tmp_path)
    json_path = tmp_path / "result.json"
    if existing:
        json_path.write_bytes(SENTINEL)
    argv = [*_argv(template, d=files), "--json", str(json_path)]
    if argv[0] == "run":
        argv.append("--no-progress")
    assert_one_line_error(*_cli(capsys, argv), words)
    if existing:
        assert json_path.read_bytes() == SENTINEL
    else:
        assert not json_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["result.json"] if existing else [])
    no_tmp_files(tmp_path, files)


# ----------------------------------------------------------------------------- --json paths
JSON_PATH_CASES = [
    case("json-missing-parent", "{t}/no/such/dir/r.json", "cannot write",
         "directory {t}/no/such/dir does not exist"),
    case("json-is-a-directory", "{t}", "output path {t} is a directory",
         "allowed: a file path"),
    case("json-parent-is-a-file", "{d}/afile/r.json", "cannot write",
         "{d}/afile is not a directory"),
]


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("json_template, words", JSON_PATH_CASES)
def test_bad_json_path(capsys, tmp_path, files, command, json_template, words):
    path = json_template.format(t=tmp_path, d=files)
    before = sorted(tmp_path.rglob("*"))
    argv = [command, "--workload", "alexnet-fc8", "--json", path]
    code, out, err = _cli(capsys, argv)
    assert_one_line_error(code, out, err, [w.format(t=tmp_path, d=files) for w in words])
    assert sorted(tmp_path.rglob("*")) == before
    assert (files / "afile").read_text() == "a file, not a directory\n"


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("kind", ["dev-null", "fifo", "symlink", "dangling-symlink", "socket"])
def test_json_target_that_is_not_a_regular_file_is_refused(capsys, tmp_path, command, kind):
    """An existing device, FIFO, socket or symbolic link at --json is refused before the run
    (the atomic rename would replace the node itself, e.g. /dev/null when run as root); the
    node, and a symlink's target, are left as they were."""
    import socket
    import stat

    target = tmp_path / "real.json"
    target.write_bytes(SENTINEL)
    path = tmp_path / "out.json"
    words = {"dev-null": "is a character device", "fifo": "is a FIFO (named pipe)",
             "symlink": "is a symbolic link", "dangling-symlink": "is a symbolic link",
             "socket": "is a socket"}[kind]
    sock = None
    if kind == "dev-null":
        path = Path("/dev/null")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        path.symlink_to(target)
    elif kind == "dangling-symlink":
        path.symlink_to(tmp_path / "nowhere.json")
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
    try:
        before = os.lstat(path)
        code, out, err = _cli(capsys, [command, "--workload", "alexnet-fc8", "--json",
                                       str(path), *(["--no-progress"] if command == "run" else [])])
        assert_one_line_error(code, out, err, [f"output path {path} {words}",
                                               "allowed: a regular file or a new path"])
        after = os.lstat(path)
        assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)
        assert after.st_ino == before.st_ino
        assert target.read_bytes() == SENTINEL
        assert not (tmp_path / "nowhere.json").exists()
        no_tmp_files(tmp_path)
    finally:
        if sock is not None:
            sock.close()


@pytest.mark.skipif(IS_ROOT, reason="root may write into a read-only directory")
def test_json_in_unwritable_directory(capsys, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, out, err = _cli(capsys, ["run", "--workload", "alexnet-fc8",
                                       "--json", str(ro / "r.json")])
        assert_one_line_error(code, out, err, ["cannot write", "is not writable"])
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_json_path_the_os_refuses(capsys, tmp_path):
    path = tmp_path / ("x" * 300 + ".json")
    code, out, err = _cli(capsys, ["run", "--workload", "alexnet-fc8", "--pes", "16",
                                   "--json", str(path), "--no-progress"])
    assert_one_line_error(code, out, err, ["cannot write"])
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- sweeps
GOOD_SWEEP = "sweep --workload alexnet-fc8,neuraltalk-lstm --pes 8,16 --jobs 1 --no-progress"


@pytest.fixture(scope="module")
def good_sweep(tmp_path_factory) -> Path:
    """The --out directory of an earlier, good sweep (4 points)."""
    out = tmp_path_factory.mktemp("good") / "out"
    assert main([*shlex.split(GOOD_SWEEP), "--out", str(out)]) == 0
    assert len(list((out / "cache" / "points").glob("*.json"))) == 4
    return out


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def assert_kept(root: Path, before: dict[str, bytes]) -> None:
    after = snapshot(root)
    for name, data in before.items():
        assert name in after, f"{name} was deleted"
        assert after[name] == data, f"{name} was changed"
    no_tmp_files(root)


SWEEP_CASES = [
    case("out-is-a-file", "sweep --workload alexnet-fc8 --out {d}/afile",
         "--out", "afile is a file", "allowed: a directory"),
    case("out-parent-is-a-file", "sweep --workload alexnet-fc8 --out {d}/afile/sub",
         "afile", "directory"),
    case("unknown-arch", "sweep --arch eie,tpu --workload alexnet-fc8 --out {out}",
         "unknown arch 'tpu'", "allowed: eie, stc, dense-tc, dense"),
    case("unknown-workload", "sweep --workload alexnet-fc8,nope --out {out}",
         "unknown workload 'nope'", "allowed: alexnet-fc6"),
    case("no-workload", "sweep --pes 8 --out {out}", "give either --workload NAME",
         "or a synthetic layer"),
    case("synthetic-incomplete", "sweep --inputs 300 --outputs 200 --out {out}",
         "a synthetic sweep needs --inputs, --outputs, --weight-density"),
    case("pes-zero-in-the-middle", "sweep --workload alexnet-fc8 --pes 8,0,16 --out {out}",
         "num_pes must be in [1, 4096]", "got 0"),
    case("pes-not-a-number", "sweep --workload alexnet-fc8 --pes 8,x --out {out}",
         "argument --pes", "comma-separated list of int values", "'8,x'"),
    case("queue-depth-zero", "sweep --workload alexnet-fc8 --queue-depth 4,0 --out {out}",
         "act_queue_depth must be in [1, 1048576]", "got 0"),
    case("queue-depth-one-circular", "sweep --workload alexnet-fc8 --queue-depth 4,1 --out {out}",
         "act_queue_depth 1 holds no entry with the circular FIFO", "allowed: depth >= 2"),
    case("queue-model-unknown", "sweep --workload alexnet-fc8 --queue-model circular,lifo "
         "--out {out}", "act_queue_model must be one of 'circular', 'counter'", "'lifo'"),
    case("flag-of-none-of-the-archs", "sweep --arch eie,dense --workload alexnet-fc8 "
         "--batch 1,8 --out {out}", "--batch does not apply to arch eie, dense",
         "their flags: --pes"),
    case("preset-on-archs-without-presets", "sweep --workload alexnet-fc8 --preset a100 "
         "--out {out}", "--preset applies to archs with presets, not eie"),
    case("sram-capacity-unknown", "sweep --workload alexnet-fc8 --sram-capacity maybe "
         "--out {out}", "sram_capacity must be one of 'enforce', 'unbounded'", "'maybe'"),
    case("weight-density-above-one", "sweep --inputs 300 --outputs 200 --weight-density 0.1,1.5 "
         "--activation-density 0.3 --out {out}", "weight_density must be a number in [0, 1]",
         "got 1.5"),
    case("activation-density-negative", "sweep --inputs 300 --outputs 200 --weight-density 0.1 "
         "--activation-density 0.3,-0.2 --out {out}",
         "activation_density must be a number in [0, 1]", "got -0.2"),
    case("density-not-a-number", "sweep --inputs 300 --outputs 200 --weight-density 0.1,abc "
         "--activation-density 0.3 --out {out}", "argument --weight-density",
         "comma-separated list of numbers"),
    case("seed-negative", "sweep --workload alexnet-fc8 --seed 1,-1 --out {out}",
         "seed must be an integer >= 0", "got -1"),
    case("energy-unknown", "sweep --workload alexnet-fc8 --energy 3nm --out {out}",
         "energy table '3nm' is neither a preset (45nm, 7nm, gpu-7nm) nor a readable file"),
    case("energy-unknown-key", "sweep --workload alexnet-fc8 --energy {d}/e_unknown_key.yaml "
         "--out {out}", "unknown key(s) foo", "allowed: description"),
    case("jobs-zero", "sweep --workload alexnet-fc8 --pes 32 --jobs 0 --out {out}",
         "--jobs", ">= 1"),
    case("jobs-negative", "sweep --workload alexnet-fc8 --pes 32,64 --jobs -1 --out {out}",
         "--jobs", ">= 1"),
    case("config-alias-bomb", "sweep --workload alexnet-fc8 --config {d}/bomb.yaml --out {out}",
         "expands to more than 20000 values"),
    case("config-fifo", "sweep --workload alexnet-fc8 --config {d}/fifo.yaml --out {out}",
         "is a FIFO (named pipe)", "allowed: a regular file"),
    case("energy-dev-zero", "sweep --workload alexnet-fc8 --energy /dev/zero --out {out}",
         "energy table /dev/zero is a character device"),
    case("grid-value-beyond-bounds", "sweep --workload alexnet-fc8 --batch-swap-cycles "
         "0,4611686018427387904 --out {out}", "batch_swap_cycles must be in [0, 1048576]"),
    case("grid-layer-larger-than-memory", "sweep --inputs 1000000000000 --outputs 1 "
         "--weight-density 0.1 --activation-density 0.5 --out {out}",
         "needs about", "more than the limit"),
    case("grid-density-below-the-generator", "sweep --inputs 1000 --outputs 100 "
         "--weight-density 0.1,1e-19 --activation-density 0.5 --out {out}",
         "weight_density must be 0 or in [1e-12, 1]"),
]


@pytest.mark.parametrize("template, words", SWEEP_CASES)
def test_sweep_catalogue(capsys, tmp_path, monkeypatch, files, good_sweep, template, words):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(good_sweep, out)
    before = snapshot(out)
    argv = [*_argv(template, d=files, out=out), "--no-progress"]
    assert_one_line_error(*_cli(capsys, argv), words)
    assert_kept(out, before)
    assert (files / "afile").read_text() == "a file, not a directory\n"
    assert not (files / "afile").is_dir()
    no_tmp_files(tmp_path, files)


@pytest.mark.parametrize("template", [
    "sweep --arch tpu --workload alexnet-fc8 --out {out}",
    "sweep --workload nope --out {out}",
    "sweep --workload alexnet-fc8 --pes 8,0 --out {out}",
    "sweep --workload alexnet-fc8 --energy 3nm --out {out}",
    "sweep --workload alexnet-fc8 --batch 1,8 --out {out}",
], ids=["unknown-arch", "unknown-workload", "pes-zero", "energy-unknown", "flag-of-another-arch"])
def test_sweep_validation_fails_before_creating_out(capsys, tmp_path, template):
    """Bad grids are refused before any work: a fresh --out directory is not even created."""
    out = tmp_path / "fresh"
    code, stdout, err = _cli(capsys, [*_argv(template, out=out), "--no-progress"])
    assert_one_line_error(code, stdout, err, [])
    assert not out.exists()


CORRUPT_CACHE = [
    pytest.param(b'{"cache_version": 1, "row": {"arch": "e', id="truncated-json"),
    pytest.param(b"[1, 2, 3]\n", id="not-a-mapping"),
    pytest.param(b'{"cache_version": 99, "row": {}}', id="other-cache-version"),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"cache_version": 1, "row": 5}', id="row-not-a-mapping"),
    pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
]


@pytest.mark.parametrize("content", CORRUPT_CACHE)
def test_corrupt_cache_entry(capsys, tmp_path, good_sweep, content):
    out = tmp_path / "out"
    shutil.copytree(good_sweep, out)
    entry = sorted((out / "cache" / "points").glob("*.json"))[1]
    entry.write_bytes(content)
    before = snapshot(out)
    code, stdout, err = _cli(capsys, [*shlex.split(GOOD_SWEEP), "--out", str(out)])
    assert_one_line_error(code, stdout, err, [f"cache entry {entry} is corrupt",
                                              "delete it (or the cache directory)"])
    assert snapshot(out) == before  # nothing changed, nothing added, the bad entry kept
    no_tmp_files(tmp_path)


def _copy_entry(entries: list[Path]) -> Path:
    entries[1].write_bytes(entries[0].read_bytes())  # a copied (or renamed) entry
    return entries[1]


def _edit_row(entries: list[Path]) -> Path:
    import json

    data = json.loads(entries[1].read_text())
    data["row"]["cycles"] += 1  # an edited result
    entries[1].write_text(json.dumps(data))
    return entries[1]


def _edit_point(entries: list[Path]) -> Path:
    import json

    data = json.loads(entries[1].read_text())
    data["point"]["seed"] = 12345  # an entry written for another point
    entries[1].write_text(json.dumps(data))
    return entries[1]


@pytest.mark.parametrize("tamper", [_copy_entry, _edit_row, _edit_point],
                         ids=["copied-from-another-point", "row-edited", "point-edited"])
def test_cache_entry_of_another_point_is_refused(capsys, tmp_path, good_sweep, tamper):
    """A cache entry is used only if its key, its point and the SHA-256 of its row match the
    point asked for: a copied or edited entry is refused, never used silently."""
    out = tmp_path / "out"
    shutil.copytree(good_sweep, out)
    entry = tamper(sorted((out / "cache" / "points").glob("*.json")))
    before = snapshot(out)
    code, stdout, err = _cli(capsys, [*shlex.split(GOOD_SWEEP), "--out", str(out)])
    assert_one_line_error(code, stdout, err, [f"cache entry {entry} does not belong to this "
                                              "point", "delete it (or the cache directory)"])
    assert snapshot(out) == before


def test_sweep_result_file_that_is_a_symlink_is_refused_before_any_work(capsys, tmp_path,
                                                                       good_sweep):
    out = tmp_path / "out"
    shutil.copytree(good_sweep, out)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(SENTINEL)
    (out / "sweep.json").unlink()
    (out / "sweep.json").symlink_to(elsewhere)
    before = snapshot(out)
    code, stdout, err = _cli(capsys, [*shlex.split(GOOD_SWEEP), "--pes", "8,16,32", "--out",
                                      str(out)])
    assert_one_line_error(code, stdout, err, ["sweep.json is a symbolic link",
                                              "allowed: a regular file or a new path"])
    assert snapshot(out) == before  # not even the new point was computed
    assert (out / "sweep.json").is_symlink() and elsewhere.read_bytes() == SENTINEL


@pytest.mark.skipif(IS_ROOT, reason="root may write into a read-only directory")
def test_sweep_into_a_read_only_out_directory(capsys, tmp_path, good_sweep):
    out = tmp_path / "out"
    shutil.copytree(good_sweep, out)
    before = snapshot(out)
    out.chmod(0o555)
    try:
        code, stdout, err = _cli(capsys, [*shlex.split(GOOD_SWEEP), "--pes", "8,32", "--out",
                                          str(out)])
        assert_one_line_error(code, stdout, err, [f"--out directory {out}", "not writable"])
    finally:
        out.chmod(0o755)
    assert snapshot(out) == before


SMALL_SWEEP = ("sweep --inputs 64 --outputs 48 --weight-density 0.5 --activation-density 0.5 "
               "--pes 2,4,8 --no-progress")


def test_jobs_are_capped_at_the_cores_and_points(capsys, tmp_path):
    """--jobs 1000000 once forked workers until the machine ran out: it is capped (with a
    note) at the cores this process may use and the points, and the sweep succeeds."""
    from eie_sim.sweep import available_cores, worker_count

    assert worker_count(1_000_000, 3) == min(3, available_cores())
    assert worker_count(None, 1000) == available_cores()
    code = main([*shlex.split(SMALL_SWEEP), "--jobs", "1000000", "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    want = min(3, available_cores())
    assert captured.err == (f"eie-sim: note: --jobs 1000000 capped at {want} "
                            f"({available_cores()} cores, 3 points)\n")
    assert "3 points (3 simulated" in captured.out


def _children(pid: int) -> set[int]:
    kids = set()
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            kids.add(int(stat_file.parent.name))
    return kids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_workers_exit_when_the_sweep_is_killed(tmp_path):
    """SIGKILL the sweep (its finally blocks never run): its pool workers notice the parent's
    death and exit within seconds instead of outliving it."""
    import signal
    import time

    cmd = [sys.executable, "-m", "eie_sim", *shlex.split(
        "sweep --workload alexnet-fc8 --engine des --pes 8,16,32,64 --jobs 2 --no-progress"),
        "--out", str(tmp_path / "o")]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2:
            workers = _children(proc.pid)
            time.sleep(0.1)
        assert workers, "the sweep started no worker"
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        alive = workers
        while alive and time.monotonic() < deadline:
            alive = {w for w in alive if Path(f"/proc/{w}").exists()
                     and "Z" not in Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1][:3]}
            time.sleep(0.1)
        assert not alive, f"workers {sorted(alive)} outlived the killed sweep"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_results_never_hold_nan_or_infinity():
    """The JSON writers refuse NaN and infinity instead of writing invalid JSON."""
    from eie_sim.errors import EieSimError
    from eie_sim.result import dumps
    from eie_sim.sweep import SweepResult

    with pytest.raises(EieSimError, match=r"non-finite number at \$\.a\[1\]"):
        dumps({"a": [1.0, float("nan")]})
    with pytest.raises(EieSimError, match="NaN or infinity"):
        SweepResult(rows=[{"energy_pj": float("inf")}]).to_json()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_infeasible_point_in_the_middle_is_a_row_and_nothing_is_lost(capsys, tmp_path,
                                                                         good_sweep, jobs):
    """A point the machine cannot run (a layer too large for 4 PEs, in the middle of the grid)
    does not abort the sweep: it is a row with status 'infeasible' and the reason; the other
    points run, everything is cached, and a re-run computes nothing."""
    import csv

    out = tmp_path / "out"
    shutil.copytree(good_sweep, out)
    grid = f"sweep --workload alexnet-fc8,neuraltalk-lstm --pes 8,4,16 --jobs {jobs} --no-progress"
    assert main([*shlex.split(grid), "--out", str(out)]) == 0
    assert "6 points (2 simulated, 4 from cache, 1 infeasible" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    bad = [r for r in rows if r["status"] != "ok"]
    assert [(r["workload"], r["num_pes"], r["status"]) for r in bad] == [
        ("alexnet-fc8", "4", "infeasible")]
    assert "needs 258623 B of sparse-matrix SRAM per PE at 4 PEs" in bad[0]["error"]
    assert main([*shlex.split(grid), "--out", str(out)]) == 0
    assert "6 points (0 simulated, 6 from cache" in capsys.readouterr().out


# ----------------------------------------------------------------------------- plots
PLOTS_MISSING = ("eie_sim/cli/plot.py imports eie_sim.plots, which does not exist "
                 "-> ModuleNotFoundError traceback, exit 1, for every 'eie-sim plot'")


@pytest.mark.xfail(not HAS_PLOTS, strict=True, reason=PLOTS_MISSING)
def test_unknown_plot_kind(capsys, good_sweep):
    code, out, err = _cli(capsys, ["plot", "no-such-plot", "--from", str(good_sweep)])
    assert_one_line_error(code, out, err, ["unknown plot 'no-such-plot'", "allowed:"])


@pytest.mark.xfail(not HAS_PLOTS, strict=True, reason=PLOTS_MISSING)
@pytest.mark.parametrize("sweep_json", [None, b"{not json", b'{"rows": 3}'],
                         ids=["no-sweep-json", "corrupt-sweep-json", "wrong-sweep-json"])
def test_plot_without_sweep_results(capsys, tmp_path, sweep_json):
    src = tmp_path / "src"
    src.mkdir()
    if sweep_json is not None:
        (src / "sweep.json").write_bytes(sweep_json)
    before = snapshot(src)
    from eie_sim.plots import PLOTS

    kind = next(iter(PLOTS))
    code, out, err = _cli(capsys, ["plot", kind, "--from", str(src)])
    words = (["no sweep results in", "run 'eie-sim sweep --out DIR' first"] if sweep_json is None
             else ["is not a sweep result file"])
    assert_one_line_error(code, out, err, words)
    assert snapshot(src) == before


def test_plot_from_a_file(capsys, files):
    code, out, err = _cli(capsys, ["plot", "pe-sweep", "--from", str(files / "afile")])
    assert_one_line_error(code, out, err, ["afile is not a directory",
                                           "allowed: a sweep directory"])
    assert (files / "afile").read_text() == "a file, not a directory\n"


# ----------------------------------------------------------------------------- N:M (stc)
def test_nm_pattern_violation(capsys, tmp_path, files):
    rng = np.random.default_rng(1)
    dense = rng.standard_normal((16, 32))  # every group of 4 is full: violates 2:4
    np.savez(tmp_path / "dense.npz", w=dense)
    np.save(tmp_path / "x.npy", np.abs(rng.standard_normal(32)))
    json_path = tmp_path / "r.json"
    code, out, err = _cli(capsys, ["run", "--arch", "stc", "--weights", str(tmp_path / "dense.npz"),
                                   "--tensor", "w", "--activations", str(tmp_path / "x.npy"),
                                   "--json", str(json_path), "--no-progress"])
    assert_one_line_error(code, out, err, [])
    assert any(p in err for p in ("N:M", "2:4")), err
    assert not json_path.exists()


# ----------------------------------------------------------------------------- console script
def test_console_script_prints_one_line_and_no_traceback(tmp_path, files):
    exe = shutil.which("eie-sim")
    cmd = [exe] if exe else [sys.executable, "-m", "eie_sim.cli"]
    json_path = tmp_path / "r.json"
    proc = subprocess.run(
        [*cmd, "run", "--weights", str(files / "nan.npz"), "--tensor", "w",
         "--activations", str(files / "acts.npy"), "--json", str(json_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr == f"{PREFIX}tensor 'w' contains NaN or infinity\n"
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- resource limits
def test_max_memory_from_the_environment(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("EIE_SIM_MAX_MEMORY", "lots")
    code, out, err = _cli(capsys, ["run", "--workload", "alexnet-fc8", "--no-progress"])
    assert_one_line_error(code, out, err, ["environment variable EIE_SIM_MAX_MEMORY",
                                           "expected a memory size, got 'lots'", "allowed:"])
    monkeypatch.setenv("EIE_SIM_MAX_MEMORY", "16M")
    code, out, err = _cli(capsys, ["run", "--workload", "alexnet-fc8", "--no-progress"])
    assert_one_line_error(code, out, err, ["more than the limit 16 MiB"])
    # the flag wins over the environment
    code, out, err = _cli(capsys, ["run", "--inputs", "64", "--outputs", "32",
                                   "--weight-density", "0.5", "--activation-density", "0.5",
                                   "--no-progress", "--max-memory", "1G"])
    assert code == 0, err


def test_sram_model_extrapolating_beyond_a_sane_price(capsys, tmp_path):
    from importlib import resources

    import yaml

    table = yaml.safe_load(resources.files("eie_sim.energy").joinpath("tables/45nm.yaml")
                           .read_text())
    table["sram"]["read_pj_by_capacity_bytes"] = {1: 1e-6, 2: 1000.0}  # 1e9x per doubling
    path = tmp_path / "steep.yaml"
    path.write_text(yaml.safe_dump(table))
    code, out, err = _cli(capsys, ["run", "--workload", "alexnet-fc8", "--energy", str(path),
                                   "--no-progress"])
    assert_one_line_error(code, out, err, ["the energy table's SRAM model prices a",
                                           "allowed: at most 1e+09 pJ"])


@pytest.mark.parametrize("error, words", [
    (MemoryError, ["out of memory", "--max-memory"]),
    (RecursionError, ["nested too deeply", "allowed:"]),
])
def test_errors_the_estimates_missed_are_still_one_line(capsys, monkeypatch, error, words):
    def boom(args):
        raise error()

    monkeypatch.setattr("eie_sim.cli.run.run", boom)
    assert_one_line_error(*_cli(capsys, ["run", "--workload", "alexnet-fc8"]), words)


def test_excerpts_are_bounded():
    from eie_sim.limits import excerpt

    assert "..." in excerpt("x" * 10_000) and len(excerpt("x" * 10_000)) <= 60
    assert len(excerpt(10**4000)) <= 60
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    assert len(excerpt(nested)) <= 60  # no RecursionError, no full repr
    assert excerpt(5) == "5" and excerpt("abc") == "'abc'"


def test_config_with_too_many_values_is_refused_while_composing(capsys, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("num_pes: [" + "1, " * 30_000 + "1]\n")
    code, out, err = _cli(capsys, ["run", "--workload", "alexnet-fc8", "--config", str(path)])
    assert_one_line_error(code, out, err, [f"config {path} has more than 20000 values",
                                           "allowed: at most 20000"])


def test_a_wrapped_count_is_refused_not_reported():
    """The last line of defence behind the bounds: a result whose cycles or counters are not
    integers in [0, 2**61] (an int64 that wrapped) is refused in one line."""
    from eie_sim.errors import ResourceError
    from eie_sim.result import LayerResult

    def layer(cycles, counts):
        zero = np.zeros(1, dtype=np.int64)
        return LayerResult(name="l", n_in=1, n_out=1, cycles=cycles, time_us=1.0,
                           segment_kind="pass", segment_cycles=[cycles], unit_kind="PE",
                           unit_busy_cycles=zero, unit_stall_cycles=zero, unit_idle_cycles=zero,
                           counts=counts, macs=0, peak_macs_per_cycle=1,
                           outputs=np.zeros(1, np.int16), outputs_match_reference=None,
                           weight_density=1.0, activation_density=1.0)

    layer(10, {"pe.arith.mac": 3})
    with pytest.raises(ResourceError, match="cycles is -9223372036854775808, not an integer"):
        layer(int(np.int64(-(2**63))), {})
    with pytest.raises(ResourceError, match="counter dram.read_bytes is 4611686018427387904"):
        layer(10, {"dram.read_bytes": 2**62})
