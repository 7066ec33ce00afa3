"""The bad-input promise, fuzzed (docs/BAD_INPUT.md): for every generated input the CLI either

* exits 0, and a ``--json`` file it wrote is strict JSON (no NaN or infinity) valid against the
  result schema, or
* exits 2 with exactly one line ``eie-sim: error: ...`` on stderr (under 2000 characters) and
  nothing on stdout,

never a traceback (any exception escaping :func:`eie_sim.cli.main` fails the test), within a
bounded time per command and a bounded growth of the process's peak memory, and on failure
every output file that existed before is byte-identical and no new one appears.

Hypothesis generates architecture configs and raw YAML documents (aliases, anchors, duplicate
keys, deep nesting, numbers YAML 1.1 and 1.2 disagree on), energy tables (mutations of the
bundled 45 nm table), weight files (``.npz``, ``.safetensors``, ``.npy``: shapes, dtypes,
non-finite values, truncated or corrupted bytes) and command lines (every command, every
flag, values at and beyond their bounds). The CLI runs in-process; layers are kept small
(synthetic layers of at most 64 x 64) and ``--max-memory 256M`` bounds what a run may
allocate, so each example takes well under a second.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import resource
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from eie_sim import registry
from eie_sim.cli import main

PREFIX = "eie-sim: error: "
SENTINEL = b'{"an earlier result": true}\n'
TIME_LIMIT_S = 30.0  # per command; the slowest generated command takes ~2 s
MEMORY_GROWTH_LIMIT = 2 << 30  # peak RSS growth over the whole test, bytes
#: The memory budget of every generated command: what a run may allocate, and (since the
#: estimates refuse anything larger) what bounds its time.
BUDGET = "256M"
SMALL_LAYER = ["--inputs", "48", "--outputs", "40", "--weight-density", "0.3",
               "--activation-density", "0.5"]

#: The suite's runs are reproducible (derandomized: the same examples every run, so CI is
#: deterministic); EIE_SIM_FUZZ=random draws new examples each run, for fuzzing sessions.
FUZZ = settings(max_examples=40, deadline=None,
                derandomize=os.environ.get("EIE_SIM_FUZZ") != "random", print_blob=True,
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


# ----------------------------------------------------------------------------- the promise
@dataclasses.dataclass
class Outcome:
    code: int
    out: str
    err: str


def _strict_json(text: str):
    def refuse(name: str):
        raise AssertionError(f"{name} in JSON output")

    return json.loads(text, parse_constant=refuse)


def check_promise(argv: list[str], watched: list[Path] = ()) -> Outcome:
    """Run ``eie-sim argv`` in-process and assert the promise; ``watched`` are output paths
    that must be unchanged (or still absent) if the command fails."""
    before = {p: p.read_bytes() if p.is_file() else None for p in watched}
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # --help and --version exit through argparse
            code = exc.code if isinstance(exc.code, int) else 2
    elapsed = time.monotonic() - start
    result = Outcome(code, out.getvalue(), err.getvalue())
    if currently_in_test_context():  # --hypothesis-show-statistics: how many ran through
        event(f"exit {code}")
    assert elapsed < TIME_LIMIT_S, f"{argv} took {elapsed:.1f} s"
    assert "Traceback" not in result.err, result.err
    if code == 0:
        return result
    assert code == 2, f"exit {code} for {argv}: {result.err!r}"
    assert result.err.startswith(PREFIX), (argv, result.err)
    assert result.err.count("\n") == 1 and result.err.endswith("\n"), (argv, result.err)
    assert len(result.err) < 2000, (argv, len(result.err))
    assert result.out == "", (argv, result.out)
    for p, data in before.items():
        if data is None:
            assert not p.exists() or not p.is_file() or p.read_bytes() == b"", \
                f"{p} appeared although {argv} failed"
        else:
            assert p.read_bytes() == data, f"{p} changed although {argv} failed"
    return result


def check_json_result(path: Path) -> None:
    """A result file written by a successful run: strict JSON, valid against the schema."""
    import jsonschema

    from eie_sim.result import schema

    data = _strict_json(path.read_text())
    if isinstance(data, dict) and "schema_version" in data:
        jsonschema.validate(data, schema())


@pytest.fixture(scope="module")
def peak_memory():
    """Peak RSS (bytes) at the start; the fuzz tests must not grow it by more than 2 GiB."""
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    yield start
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start
    assert grown < MEMORY_GROWTH_LIMIT, f"peak memory grew by {grown / 2**20:.0f} MiB"


@pytest.fixture
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _fresh(work: Path, name: str) -> Path:
    """A path for this example (removing what an earlier example left there)."""
    p = work / name
    if p.is_symlink() or p.is_file():
        p.unlink()
    return p


# ----------------------------------------------------------------------------- values
def _field_values(f: dataclasses.Field) -> st.SearchStrategy:
    """Values for a config field: at and beyond its bounds, of the wrong type, hostile."""
    meta = f.metadata
    hostile = st.sampled_from([None, "", "x" * 3000, [1, 2], {"a": 1}, float("nan"),
                               float("inf"), -1, 2**62, 2**64, 1e300, True, "010"])
    if meta["choices"]:
        return st.one_of(st.sampled_from(list(meta["choices"])), hostile, st.text(max_size=8))
    if isinstance(f.default, bool):
        return st.one_of(st.booleans(), hostile)
    if isinstance(f.default, (int, float)):
        lo, hi = meta["lo"], meta["hi"]
        edges = [lo, hi, f.default]
        if isinstance(f.default, int):
            near = st.integers(int(lo), int(min(hi, max(lo, f.default) * 4 + 8)))
            edges += [int(lo) - 1, int(hi) + 1]
        else:
            near = st.floats(lo, min(hi, max(lo, f.default) * 4 + 8), allow_nan=False)
            edges += [lo / 2, hi * 2]
        return st.one_of(near, st.sampled_from(edges), hostile)
    return st.one_of(st.just(f.default), hostile, st.text(max_size=20))


@st.composite
def configs(draw) -> tuple[str, dict]:
    """An architecture name and a config mapping: some of its fields, maybe unknown keys."""
    arch = draw(st.sampled_from(registry.names()))
    fields = dataclasses.fields(registry.get(arch).config)
    chosen = draw(st.lists(st.sampled_from(fields), max_size=4, unique_by=lambda f: f.name))
    data: dict = {f.name: draw(_field_values(f)) for f in chosen}
    if draw(st.booleans()):
        data["arch"] = draw(st.sampled_from([arch, arch, "tpu", 7]))
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.text(min_size=1, max_size=30))] = 1
    return arch, data


_SCALARS = st.sampled_from(["1", "010", "0o10", "0x1F", "1e3", "2:4", ".nan", "-.inf", "~",
                            "yes", "1_000", "'quoted'", "\"s\"", "12345678901234567890123",
                            "!!binary aGk=", "!!python/object:os.system x", "[", "{", "&", "*"])


@st.composite
def yaml_documents(draw) -> str:
    """Raw YAML text: keys that are config fields or junk, scalars YAML versions disagree on,
    anchors and aliases (some nested, some recursive, some undefined), duplicate keys, deep
    flow nesting, tabs, and arbitrary characters."""
    names = [f.name for acc in registry.ACCELERATORS.values()
             for f in dataclasses.fields(acc.config)]
    lines = []
    for i in range(draw(st.integers(0, 6))):
        key = draw(st.sampled_from(names + ["arch", "foo", "<<", "? [1]"]))
        kind = draw(st.integers(0, 6))
        if kind == 0:
            value = draw(_SCALARS)
        elif kind == 1:
            value = f"&a{i} [" + ", ".join(draw(st.lists(_SCALARS, max_size=4))) + "]"
        elif kind == 2:
            value = f"[*a{draw(st.integers(0, 6))}, *a{draw(st.integers(0, 6))}]"
        elif kind == 3:
            depth = draw(st.sampled_from([2, 63, 64, 65, 200, 5000]))
            value = "[" * depth + "]" * depth
        elif kind == 4:
            value = f"&r{i} [*r{i}]"
        elif kind == 5:
            value = draw(st.text(max_size=30))
        else:
            value = draw(st.integers(-(2**70), 2**70)).__str__()
        lines.append(f"{key}: {value}")
    if draw(st.booleans()) and lines:
        lines.append(draw(st.sampled_from(lines)))  # a duplicate key
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 5)) == 0:
        text = draw(st.text(max_size=200))
    return text


# ----------------------------------------------------------------------------- configs
@settings(FUZZ, max_examples=30)
@given(case=configs(), as_text=st.booleans())
def test_fuzzed_configs_keep_the_promise(work, peak_memory, case, as_text):
    arch, data = case
    cfg = _fresh(work, "c.yaml")
    try:
        text = yaml.safe_dump(data) if as_text else json.dumps(data, default=str)
    except (ValueError, yaml.YAMLError):
        text = str(data)
    cfg.write_text(text)
    out = _fresh(work, "r.json")
    out.write_bytes(SENTINEL)
    result = check_promise(["run", "--arch", arch, *SMALL_LAYER, "--config", str(cfg),
                            "--json", str(out), "--no-progress", "--max-memory", BUDGET], [out])
    if result.code == 0:
        check_json_result(out)


@FUZZ
@given(text=yaml_documents(), command=st.sampled_from(["run", "sweep"]))
def test_fuzzed_yaml_documents_keep_the_promise(work, peak_memory, text, command):
    cfg = _fresh(work, "c.yaml")
    cfg.write_text(text)
    out = _fresh(work, "r.json")
    out.write_bytes(SENTINEL)
    if command == "run":
        argv = ["run", *SMALL_LAYER, "--config", str(cfg), "--json", str(out), "--no-progress"]
    else:
        argv = ["sweep", *SMALL_LAYER, "--config", str(cfg), "--out", str(work / "sw"),
                "--jobs", "1", "--no-progress"]
    result = check_promise([*argv, "--max-memory", BUDGET], [out])
    if result.code == 0 and command == "run":
        check_json_result(out)


# ----------------------------------------------------------------------------- energy tables
def _bundled_table() -> dict:
    from importlib import resources

    text = resources.files("eie_sim.energy").joinpath("tables/45nm.yaml").read_text()
    return yaml.safe_load(text)


BUNDLED = _bundled_table()
_TABLE_VALUES = st.one_of(
    st.sampled_from([None, 0, -1, 0.5, 64, 1e300, float("nan"), float("inf"), -float("inf"),
                     "abc", "", [], {}, {"pj": 1.0}, {"pj": -1, "source": "s"}, True, 2**70,
                     {"sram": "read"}, {"sram": "leakage"}, {"value": 1.0, "source": "s"}]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=10))


def _paths(data, prefix=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))


@st.composite
def energy_tables(draw) -> dict:
    """The bundled 45 nm table with a few mutations: a value replaced, a key removed or added."""
    import copy

    table = copy.deepcopy(BUNDLED)
    paths = list(_paths(table))
    for _ in range(draw(st.integers(0, 2))):  # none: the bundled table, priced (exit 0)
        path = draw(st.sampled_from(paths))
        parent = table
        for k in path[:-1]:
            parent = parent.get(k) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        action = draw(st.integers(0, 3))
        if action == 0:
            parent.pop(path[-1], None)
        elif action == 1:
            parent[draw(st.sampled_from(["foo", "leakage_mw", "sram", "source"]))] = \
                draw(_TABLE_VALUES)
        else:
            parent[path[-1]] = draw(_TABLE_VALUES)
    return table


@settings(FUZZ, max_examples=15)
@given(table=energy_tables(), arch=st.sampled_from(["eie", "dense", "stc"]))
def test_fuzzed_energy_tables_keep_the_promise(work, peak_memory, table, arch):
    path = _fresh(work, "e.yaml")
    try:
        path.write_text(yaml.safe_dump(table, allow_unicode=True))
    except yaml.YAMLError:
        return
    out = _fresh(work, "r.json")
    out.write_bytes(SENTINEL)
    result = check_promise(["run", "--arch", arch, *SMALL_LAYER, "--energy", str(path),
                            "--json", str(out), "--no-progress", "--max-memory", BUDGET], [out])
    if result.code == 0:
        check_json_result(out)
        data = _strict_json(out.read_text())
        assert data["totals"]["energy_pj"]["total"] >= 0


# ----------------------------------------------------------------------------- weight files
_DTYPES = st.sampled_from(["float32", "float64", "float16", "int8", "int32", "uint8", "bool",
                           "complex64", "U1"])


@st.composite
def arrays(draw, max_side: int = 24) -> np.ndarray:
    """An array of 0-3 dimensions (each at most ``max_side``), any dtype a user might save,
    values mostly zero or moderate with some NaN, infinity and huge ones (drawn from a seeded
    generator: Hypothesis draws the shape, dtype, mix and seed)."""
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=0, max_size=3)))
    dtype = draw(_DTYPES)
    n = math.prod(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype == "U1":
        return rng.choice(np.array(["a", "b"]), size=shape)
    pool = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 1.0, -1.0, 0.004, 300.0, 1e30,
                                                   float("nan"), float("inf")]),
                                  min_size=1, max_size=4)))
    a = rng.choice(pool, size=n) * rng.uniform(-1.0, 1.0, size=n) if n else np.zeros(0)
    with np.errstate(all="ignore"):
        if np.dtype(dtype).kind in "iub":
            a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0).clip(-100, 100)
        return a.reshape(shape).astype(dtype)


@st.composite
def weight_files(draw):
    """(suffix, {name: array}, corruption) for a weights file: half of them a good layer ``w``
    (outputs x inputs, float) with a bias ``b``, the rest anything."""
    suffix = draw(st.sampled_from([".npz", ".safetensors"]))
    if draw(st.booleans()):
        rows, cols = draw(st.integers(1, 24)), draw(st.integers(1, 24))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        w = rng.standard_normal((rows, cols)) * (rng.random((rows, cols)) < 0.5)
        tensors = {"w": w.astype(draw(st.sampled_from(["float32", "float64"]))),
                   "b": rng.standard_normal(rows).astype("float32")}
        if draw(st.booleans()):
            tensors[draw(st.sampled_from(["w", "b", "x"]))] = draw(arrays())
    else:
        names = draw(st.lists(st.sampled_from(["w", "b", "x", "w.t"]), min_size=1, max_size=3,
                              unique=True))
        tensors = {n: draw(arrays()) for n in names}
    corruption = draw(st.sampled_from([None, None, None, None, "truncate", "flip", "empty"]))
    return suffix, tensors, corruption


def _write_weights(path: Path, tensors: dict, corruption, rnd: int) -> bool:
    """Write the file (False if the format cannot hold these tensors)."""
    try:
        if path.suffix == ".npz":
            np.savez(path, **tensors)
        else:
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path))
    except Exception:  # e.g. safetensors has no unicode or complex tensors
        return False
    data = path.read_bytes()
    if corruption == "truncate" and data:
        path.write_bytes(data[: rnd % len(data)])
    elif corruption == "flip" and data:
        i = rnd % len(data)
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    elif corruption == "empty":
        path.write_bytes(b"")
    return True


@FUZZ
@given(weights=weight_files(), acts=st.one_of(st.none(), arrays(max_side=30)),
       rnd=st.integers(0, 2**32), arch=st.sampled_from(["eie", "dense", "stc"]),
       tensor=st.sampled_from(["w", "w", "w", "b", "nope"]),
       bias=st.sampled_from([None, None, "b", "w"]), transpose=st.booleans(),
       prune=st.sampled_from([None, None, None, "0.5", "2", "nan"]))
def test_fuzzed_weight_files_keep_the_promise(work, peak_memory, weights, acts, rnd, arch, tensor,
                                              bias, transpose, prune):
    suffix, tensors, corruption = weights
    path = _fresh(work, "w" + suffix)
    if not _write_weights(path, tensors, corruption, rnd):
        event("not writable in this format")
        return
    argv = ["run", "--arch", arch, "--weights", str(path), "--tensor", tensor]
    if acts is None:
        argv += ["--activation-density", "0.5"]
    else:
        if rnd % 2 and "w" in tensors and np.ndim(tensors["w"]) == 2:  # the right length
            n_in = np.shape(tensors["w"])[0 if transpose else 1]
            acts = np.abs(np.random.default_rng(rnd).standard_normal(n_in))
        x = _fresh(work, "x.npy")
        np.save(x, acts)
        if rnd % 7 == 0:
            x.write_bytes(x.read_bytes()[: rnd % 64])
        argv += ["--activations", str(x)]
    if bias:
        argv += ["--bias-tensor", bias]
    if transpose:
        argv.append("--transpose")
    if prune:
        argv += ["--prune-density", prune]
    if arch == "stc":
        argv.append("--prune")
    out = _fresh(work, "r.json")
    out.write_bytes(SENTINEL)
    result = check_promise([*argv, "--json", str(out), "--no-progress", "--max-memory", BUDGET],
                           [out])
    if result.code == 0:
        check_json_result(out)


# ----------------------------------------------------------------------------- command lines
_WORDS = st.sampled_from(["0", "1", "-1", "2", "8", "64", "1e-19", "1e300", "nan", "inf", "abc",
                          "", "99999999999999999999999", "0.5", "1,2", "8,0", "true", "maybe",
                          "2:4", "5:4", "fp16", "dram", "auto", "a100", "x" * 300])


def _arch_flag_values() -> list[tuple[str, st.SearchStrategy]]:
    from eie_sim.cli._args import arch_flags

    out = []
    for spec in arch_flags():
        field = next(iter(spec.fields.values()))
        values = _field_values(field).map(lambda v: str(v).lower() if isinstance(v, bool)
                                          else str(v))
        out.append((f"--{spec.flag}", st.one_of(values, _WORDS)))
    return out


ARCH_FLAGS = _arch_flag_values()


@st.composite
def command_lines(draw, work: Path) -> tuple[list[str], list[Path]]:
    """A command line of any command with flags and values at and beyond their bounds;
    returns it and the output paths that must survive a failure."""
    command = draw(st.sampled_from(["run", "run", "run", "sweep", "sweep", "compare", "plot",
                                    "workloads", "archs", "nope"]))
    argv = [command]
    watched: list[Path] = []
    if command in ("run", "sweep"):
        if draw(st.integers(0, 4)):
            argv += ["--inputs", draw(st.sampled_from(["16", "48", "64", "0", "-5", "x",
                                                       "1000000000000"])),
                     "--outputs", draw(st.sampled_from(["8", "40", "64", "1048576"]))]
            argv += ["--weight-density", draw(st.sampled_from(["0.3", "1", "0", "1e-19",
                                                               "nan", "0.1,0.9"])),
                     "--activation-density", draw(st.sampled_from(["0.5", "1", "-0.2"]))]
        else:
            argv += ["--workload", draw(st.sampled_from(["nope", "alexnet-fc9", "", "ese-lstm,x"]))]
        argv += ["--arch", draw(st.sampled_from(registry.names() + ["tpu", "eie,stc"]))]
        for flag, values in draw(st.lists(st.sampled_from(ARCH_FLAGS), max_size=3,
                                          unique_by=lambda fv: fv[0])):
            argv += [flag, draw(values)]
        if draw(st.booleans()):
            argv += ["--max-memory", draw(st.sampled_from([BUDGET, "1M", "0", "lots", "0.01%",
                                                           "1e30"]))]
        else:
            argv += ["--max-memory", BUDGET]
        if command == "run":
            target = draw(st.sampled_from(["file", "new", "/dev/null", "dir", "missing-dir"]))
            path = {"file": work / "r.json", "new": work / "new.json", "dir": work,
                    "/dev/null": Path("/dev/null"),
                    "missing-dir": work / "no" / "r.json"}[target]
            if target == "file":
                path.write_bytes(SENTINEL)
            if target in ("file", "new"):
                watched.append(path)
            argv += ["--json", str(path), "--no-progress"]
            if draw(st.booleans()) and "1048576" not in argv:  # SimPy on 2**26 weights: minutes
                argv += ["--engine", draw(st.sampled_from(["des", "fast", "warp"]))]
        else:
            out = work / "sweep"
            watched += [out / "keep.txt"]
            out.mkdir(exist_ok=True)
            (out / "keep.txt").write_bytes(SENTINEL)
            argv += ["--out", str(out), "--no-progress",
                     "--jobs", draw(st.sampled_from(["1", "1", "0", "x"]))]
    elif command == "compare":
        argv += ["--workload", draw(st.sampled_from(["nope", "alexnet-fc9", ""])),
                 "--batch", draw(_WORDS), "--mode", draw(st.sampled_from(["iso", "x"]))]
        path = work / "c.json"
        path.write_bytes(SENTINEL)
        watched.append(path)
        argv += ["--json", str(path)]
    elif command == "plot":
        argv += [draw(st.sampled_from(["pe-sweep", "nope"])), "--from",
                 str(draw(st.sampled_from([work / "missing", work / "afile", work])))]
        (work / "afile").write_bytes(SENTINEL)
    if draw(st.integers(0, 9)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(_WORDS))
    return argv, watched


@settings(FUZZ, max_examples=50)
@given(data=st.data())
def test_fuzzed_command_lines_keep_the_promise(work, peak_memory, data):
    argv, watched = data.draw(command_lines(work))
    result = check_promise(argv, watched)
    json_path = Path(argv[argv.index("--json") + 1]) if "--json" in argv else None
    if result.code == 0 and json_path is not None and json_path.is_file():
        check_json_result(json_path)


def test_the_promise_checker_catches_a_broken_promise(work, monkeypatch):
    """The checker fails on what it must catch -- an escaping exception, two error lines, an
    output file changed by a failing command, NaN in JSON -- so the fuzz tests can fail."""
    import sys

    out = work / "r.json"
    argv = ["run", *SMALL_LAYER, "--json", str(out), "--no-progress"]

    def crash(args):
        raise RuntimeError("a bug")

    def two_lines(args):
        print("eie-sim: error: one\nand another", file=sys.stderr)
        return 2

    def clobber(args):
        Path(args.json).write_text("half")
        print("eie-sim: error: failed after writing", file=sys.stderr)
        return 2

    for fake, expected in ((crash, RuntimeError), (two_lines, AssertionError),
                           (clobber, AssertionError)):
        out.write_bytes(SENTINEL)
        monkeypatch.setattr("eie_sim.cli.run.run", fake)
        with pytest.raises(expected):
            check_promise(argv, [out])
    monkeypatch.undo()
    with pytest.raises(AssertionError):
        _strict_json('{"a": NaN}')
    out.write_bytes(SENTINEL)
    assert check_promise(argv, [out]).code == 0  # the real command keeps it
    check_json_result(out)
