"""Tests of eie_sim/config.py: EIEConfig defaults, validation, from_dict and YAML loading."""

import dataclasses

import pytest

from eie_sim.config import EIEConfig
from eie_sim.errors import ConfigError, EieSimError
from eie_sim.registry import ACCELERATORS, load_config

FIELDS = [f.name for f in dataclasses.fields(EIEConfig)]


def test_defaults_are_the_papers_design():
    """64 PEs at 800 MHz, 8-deep circular queues holding 7, 8 entries per 64-bit SRAM row."""
    c = EIEConfig()
    assert c.num_pes == 64
    assert c.clock_mhz == 800.0
    assert c.act_queue_depth == 8
    assert c.act_queue_model == "circular"
    assert c.queue_capacity == 7
    assert c.entry_bits == 8
    assert c.entries_per_sram_row == 8
    assert c.spmat_sram_bytes == 128 * 1024
    assert c.ptr_sram_bytes == 32 * 1024
    assert c.act_sram_bytes == 2048
    assert c.act_regfile_entries == 64
    assert c.ptr_bits == 16
    assert c.relative_index_bits == 4
    assert c.input_relu is True
    assert c.weights_from == "sram"
    assert c.dram_bytes_per_cycle == pytest.approx(c.dram_bandwidth_gbps * 1e9 / 800e6)
    assert c.arch == "eie"
    assert ACCELERATORS["eie"].config is EIEConfig


def test_counter_queue_holds_depth_entries():
    """The 'counter' FIFO model holds all depth entries."""
    assert EIEConfig(act_queue_model="counter").queue_capacity == 8
    assert EIEConfig(act_queue_depth=3).queue_capacity == 2


def test_entries_per_row_follows_width_and_z_bits():
    """Entries per SRAM row = width // (4 + z bits)."""
    assert EIEConfig(spmat_sram_width_bits=128).entries_per_sram_row == 16
    c = EIEConfig(relative_index_bits=5, spmat_sram_width_bits=72)
    assert c.entry_bits == 9 and c.entries_per_sram_row == 8


BAD_VALUES = [
    ("num_pes", 0),
    ("num_pes", 4097),
    ("num_pes", 2.0),
    ("num_pes", True),
    ("num_pes", "64"),
    ("clock_mhz", 0.0),
    ("clock_mhz", -800),
    ("clock_mhz", float("nan")),
    ("clock_mhz", float("inf")),
    ("clock_mhz", "fast"),
    ("clock_mhz", True),
    ("act_queue_depth", 0),
    ("act_queue_depth", (1 << 20) + 1),
    ("act_queue_depth", 8.0),
    ("act_queue_model", "ring"),
    ("act_queue_model", None),
    ("act_regfile_entries", 0),
    ("act_sram_bytes", -1),
    ("spmat_sram_bytes", 0),
    ("spmat_sram_width_bits", 4),
    ("spmat_sram_width_bits", 8192),
    ("spmat_sram_width_bits", 60),
    ("ptr_sram_bytes", 0),
    ("ptr_bits", 0),
    ("ptr_bits", 65),
    ("relative_index_bits", 0),
    ("relative_index_bits", 9),
    ("input_relu", 1),
    ("input_relu", "yes"),
    ("sram_capacity", "ignore"),
    ("batch_swap_cycles", -1),
    ("batch_swap_cycles", 0.5),
    ("weights_from", "disk"),
    ("dram_bandwidth_gbps", 0.0),
]


@pytest.mark.parametrize("field, value", BAD_VALUES)
def test_bad_value_raises_config_error_naming_field(field, value):
    """Each out-of-range or wrongly typed value raises ConfigError naming the field."""
    with pytest.raises(ConfigError) as err:
        EIEConfig(**{field: value})
    assert field in str(err.value)
    assert isinstance(err.value, EieSimError) and isinstance(err.value, ValueError)


def generic_bad_values():
    """(field, value) pairs derived from each field's metadata: a wrong type and out-of-range."""
    cases = []
    for f in dataclasses.fields(EIEConfig):
        cases.append((f.name, "bogus"))  # wrong type, or not one of the choices
        lo, hi = f.metadata["lo"], f.metadata["hi"]
        if lo is not None:
            cases.append((f.name, type(f.default)(lo) - 1))
        if hi is not None:
            cases.append((f.name, type(f.default)(hi) + 1))
    return cases


@pytest.mark.parametrize("field, value", generic_bad_values())
def test_every_field_is_validated(field, value):
    """Every field (including ones added later) rejects a wrong type and out-of-range values."""
    with pytest.raises(ConfigError, match=field):
        EIEConfig(**{field: value})


def test_range_message_gives_allowed_range_and_unit():
    """The message says what is allowed and the unit."""
    with pytest.raises(ConfigError, match=r"num_pes must be in \[1, 4096\] \(PEs\), got 0"):
        EIEConfig(num_pes=0)
    with pytest.raises(ConfigError, match="'circular', 'counter'"):
        EIEConfig(act_queue_model="ring")


def test_queue_depth_one_needs_counter_model():
    """Depth 1 holds nothing as a circular buffer (invalid) but one entry as a counter."""
    with pytest.raises(ConfigError, match="act_queue_depth"):
        EIEConfig(act_queue_depth=1)
    c = EIEConfig(act_queue_depth=1, act_queue_model="counter")
    assert c.queue_capacity == 1
    assert EIEConfig(act_queue_depth=2).queue_capacity == 1


def test_boundary_values_are_accepted():
    """The ends of each range are valid."""
    EIEConfig(num_pes=1)
    EIEConfig(num_pes=4096)
    EIEConfig(clock_mhz=1e-3)
    EIEConfig(clock_mhz=1000)  # an int is a valid number of MHz
    EIEConfig(act_sram_bytes=0, batch_swap_cycles=0, ptr_bits=64)
    EIEConfig(relative_index_bits=8, spmat_sram_width_bits=12 * 4)


def test_config_is_frozen():
    """Configs are immutable."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        EIEConfig().num_pes = 3


# ----------------------------------------------------------------------------- dicts


def test_from_dict_and_to_dict_round_trip():
    """to_dict carries the arch; from_dict rebuilds an equal config."""
    c = EIEConfig(num_pes=16, act_queue_model="counter")
    d = c.to_dict()
    assert d["arch"] == "eie" and d["num_pes"] == 16
    assert EIEConfig.from_dict(d) == c
    assert EIEConfig.from_dict({}) == EIEConfig()


def test_from_dict_unknown_key_lists_allowed_keys():
    """An unknown key is named and every allowed key is listed."""
    with pytest.raises(ConfigError) as err:
        EIEConfig.from_dict({"num_pes": 4, "num_pe": 4, "clock": 1})
    msg = str(err.value)
    assert "clock, num_pe" in msg
    assert "allowed:" in msg
    for name in FIELDS:
        assert name in msg.split("allowed:")[1]


def test_from_dict_rejects_other_arch_and_non_mapping():
    """A different arch and a non-mapping are ConfigErrors."""
    with pytest.raises(ConfigError, match="arch 'tpu'"):
        EIEConfig.from_dict({"arch": "tpu"})
    with pytest.raises(ConfigError, match="mapping"):
        EIEConfig.from_dict([("num_pes", 4)])


def test_from_dict_validates_values():
    """from_dict goes through the same validation as the constructor."""
    with pytest.raises(ConfigError, match="num_pes"):
        EIEConfig.from_dict({"num_pes": -1})


def test_replace_changes_and_revalidates():
    """replace() returns a changed copy, and re-checks values, cross-field rules and names."""
    base = EIEConfig()
    c = base.replace(num_pes=32, clock_mhz=1000.0)
    assert (c.num_pes, c.clock_mhz) == (32, 1000.0)
    assert base.num_pes == 64
    with pytest.raises(ConfigError, match="num_pes"):
        base.replace(num_pes=0)
    with pytest.raises(ConfigError, match="act_queue_depth"):
        base.replace(act_queue_depth=1)
    assert base.replace(act_queue_depth=1, act_queue_model="counter").queue_capacity == 1
    with pytest.raises(ConfigError, match="spmat_sram_width_bits"):
        base.replace(relative_index_bits=5)  # 64-bit rows do not hold 9-bit entries
    with pytest.raises(ConfigError, match="unknown"):
        base.replace(pes=3)


def test_describe_lists_every_field_with_unit():
    """describe() gives (name, default, unit, doc) for every field."""
    rows = EIEConfig.describe()
    assert [r[0] for r in rows] == FIELDS
    assert ("num_pes", 64, "PEs") == rows[0][:3]
    assert all(r[2] and r[3] for r in rows)


# ----------------------------------------------------------------------------- YAML


def test_load_config_good_file(tmp_path):
    """A YAML mapping loads into an EIEConfig with the given fields."""
    p = tmp_path / "eie.yaml"
    p.write_text("arch: eie\nnum_pes: 16\nclock_mhz: 1000\nact_queue_model: counter\n")
    c = load_config(p)
    assert isinstance(c, EIEConfig)
    assert (c.num_pes, c.clock_mhz, c.act_queue_model) == (16, 1000, "counter")
    assert load_config(str(p)) == c


def test_load_config_empty_file_gives_defaults(tmp_path):
    """An empty YAML file is the default config."""
    p = tmp_path / "empty.yaml"
    p.write_text("")
    assert load_config(p) == EIEConfig()


def test_load_config_unknown_key(tmp_path):
    """An unknown key in the file is a ConfigError listing the allowed keys."""
    p = tmp_path / "bad.yaml"
    p.write_text("num_pes: 4\nnum_pez: 8\n")
    with pytest.raises(ConfigError, match="num_pez.*allowed: num_pes, clock_mhz"):
        load_config(p)


def test_load_config_bad_value(tmp_path):
    """A bad value in the file is a ConfigError naming the field."""
    p = tmp_path / "bad.yaml"
    p.write_text("act_queue_depth: 1\n")
    with pytest.raises(ConfigError, match="act_queue_depth"):
        load_config(p)


def test_load_config_malformed_yaml(tmp_path):
    """Malformed YAML is a ConfigError with the line, not a yaml exception."""
    p = tmp_path / "broken.yaml"
    p.write_text("num_pes: 4\nclock_mhz: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(p)


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "42\n", "just a string\n"])
def test_load_config_non_mapping(tmp_path, text):
    """A YAML document that is not a mapping is a ConfigError."""
    p = tmp_path / "list.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match="mapping"):
        load_config(p)


def test_load_config_missing_file(tmp_path):
    """A missing file is a ConfigError naming the path."""
    p = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="cannot read config .*nope.yaml"):
        load_config(p)


def test_load_config_unknown_arch(tmp_path):
    """An unknown arch is a ConfigError listing the known ones."""
    p = tmp_path / "tpu.yaml"
    p.write_text("arch: tpu\n")
    with pytest.raises(ConfigError, match="unknown arch 'tpu'.*allowed: eie"):
        load_config(p)


# ------------------------------------------------------- regressions (bugs once found here)


def test_non_string_key_is_config_error():
    """A non-string key (YAML `1: 2`) should be reported as an unknown key, not crash."""
    with pytest.raises(ConfigError, match="unknown"):
        EIEConfig.from_dict({"num_pes": 4, 1: 2})


def test_unhashable_arch_is_config_error(tmp_path):
    """`arch: [eie]` in a YAML file should be a ConfigError, not a TypeError."""
    p = tmp_path / "arch.yaml"
    p.write_text("arch: [eie]\n")
    with pytest.raises(ConfigError, match="arch"):
        load_config(p)


def test_binary_file_is_config_error(tmp_path):
    """A non-UTF-8 (binary) file should be a ConfigError, not a UnicodeDecodeError."""
    p = tmp_path / "binary.yaml"
    p.write_bytes(b"\xff\xfe\x00\x81 not text")
    with pytest.raises(ConfigError):
        load_config(p)


# ----------------------------------------------------------------------------- bounds (issue 15)
def _numeric_fields():
    for name, acc in ACCELERATORS.items():
        for f in dataclasses.fields(acc.config):
            if isinstance(f.default, (int, float)) and not isinstance(f.default, bool) \
                    and f.metadata["choices"] is None:
                yield name, acc.config, f


def test_every_numeric_field_of_every_arch_has_finite_bounds():
    import math

    fields = list(_numeric_fields())
    assert len(fields) > 40
    for arch, _, f in fields:
        lo, hi = f.metadata["lo"], f.metadata["hi"]
        assert lo is not None and hi is not None, f"{arch}.{f.name} is unbounded"
        assert math.isfinite(lo) and math.isfinite(hi) and lo <= f.default <= hi, (arch, f.name)


def test_a_numeric_param_without_bounds_is_a_programming_error():
    from eie_sim.config import param

    with pytest.raises(TypeError, match="finite lo and hi"):
        param(1, "cycles", "unbounded", lo=0)
    with pytest.raises(TypeError, match="finite lo and hi"):
        param(1.0, "MHz", "infinite", lo=0.0, hi=float("inf"))
    param("x", "-", "strings need no bounds")


@pytest.mark.parametrize("arch, cls, f", list(_numeric_fields()),
                         ids=lambda v: getattr(v, "name", None) if hasattr(v, "metadata") else None)
def test_one_past_each_bound_is_refused(arch, cls, f):
    kind = type(f.default)
    hi = f.metadata["hi"]
    above = hi + 1 if kind is int else hi * 2
    with pytest.raises(ConfigError, match=rf"{f.name} must be in \["):
        cls.from_dict({f.name: above})


def test_extreme_configs_keep_every_derived_quantity_finite_and_in_int64():
    """At the bounds that matter most (fastest clock, slowest DRAM; slowest clock, fastest
    DRAM), the derived rates are finite and positive and the cycle bound of a layer that fits
    in memory stays below 2**61 -- or the run is refused before it starts."""
    import math

    from eie_sim.config import DenseConfig, STCConfig
    from eie_sim.limits import MAX_CYCLES, cycle_bound

    for clock, bw in ((1e5, 1e-6), (1e-3, 1e6), (1e5, 1e6), (1e-3, 1e-6)):
        for cfg in (EIEConfig(clock_mhz=clock, dram_bandwidth_gbps=bw),
                    DenseConfig(clock_mhz=clock, dram_bandwidth_gbps=bw),
                    STCConfig(clock_mhz=clock, mem_bandwidth_gbps=bw)):
            rate = float(cfg.dram_bytes_per_cycle)
            assert math.isfinite(rate) and rate > 0
            assert cycle_bound(cfg, 4096, 1000) < MAX_CYCLES
            assert math.isfinite(cycle_bound(cfg, 1 << 20, 1 << 20))


def test_config_messages_quote_bounded_excerpts():
    big = list(range(100_000))
    with pytest.raises(ConfigError) as err:
        EIEConfig.from_dict({"num_pes": big})
    assert len(str(err.value)) < 200 and "..." in str(err.value)
    with pytest.raises(ConfigError) as err:
        EIEConfig.from_dict({("k" * 10_000): 1, **{f"x{i}": 1 for i in range(1000)}})
    assert len(str(err.value)) < 1000 and "(and 996 more)" in str(err.value)


# ----------------------------------------------------------------------------- YAML (issue 15)
@pytest.mark.parametrize("text, value", [
    ("v: 1e3", 1000.0), ("v: 2:4", "2:4"), ("v: 0o10", 8), ("v: 0x10", 16), ("v: -7", -7),
    ("v: 0", 0), ("v: .5", 0.5), ("v: 1.5e-3", 0.0015), ("v: true", True), ("v: 1_000", "1_000"),
])
def test_yaml_numbers_are_yaml_1_2(text, value):
    from eie_sim.safe_yaml import load

    assert load(text) == {"v": value}


def test_yaml_merge_keys_may_be_overridden_but_not_duplicated():
    from eie_sim.safe_yaml import YamlError, load

    assert load("b: &b {x: 1, y: 2}\nc: {<<: *b, x: 3}\n")["c"] == {"x": 3, "y": 2}
    with pytest.raises(YamlError, match="duplicate key 'x' at line 1"):
        load("c: {x: 1, x: 3}\n")


def test_yaml_expansion_is_counted_with_aliases_at_full_size():
    from eie_sim.safe_yaml import MAX_NODES, YamlError, expanded_size, load

    width = 10
    shared = "a: &a [" + ", ".join(["1"] * width) + "]\n"
    ok = shared + "b: [" + ", ".join(["*a"] * 100) + "]\n"
    assert len(load(ok)["b"]) == 100
    loader_text = shared + "b: [" + ", ".join(["*a"] * (MAX_NODES // width + 1)) + "]\n"
    with pytest.raises(YamlError, match="expands to more than"):
        load(loader_text)
    import yaml

    node = yaml.compose(ok)
    # the mapping, key a, list a, key b, list b, and list a a hundred times over
    assert expanded_size(node) == 1 + 1 + (1 + width) + 1 + 1 + 100 * (1 + width)


def test_load_config_reads_only_regular_files_of_bounded_size(tmp_path):
    import os

    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="is a FIFO"):
        load_config(fifo)  # returns at once: opened non-blocking, checked before reading
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * ((1 << 20) + 1))
    with pytest.raises(ConfigError, match="allowed: at most 1048576 bytes"):
        load_config(big)


def test_a_large_flat_document_is_refused_while_composing():
    """Composition stops at MAX_NODES values (an alias counts once there, in full after), so a
    1 MiB list is refused after composing 20,000 nodes, not 500,000."""
    import time

    from eie_sim.safe_yaml import MAX_NODES, YamlError, load

    text = "[" + "1," * ((1 << 19) - 1) + "1]"
    start = time.monotonic()
    with pytest.raises(YamlError, match=f"has more than {MAX_NODES} values"):
        load(text)
    assert time.monotonic() - start < 20


def test_libyaml_and_pure_python_loaders_agree():
    from eie_sim import safe_yaml

    if safe_yaml.CBoundedLoader is None:
        pytest.skip("PyYAML without libyaml")
    docs = ["a: 1e3\nb: 2:4\nc: 0o17\nd: [1, 2, {e: .inf}]\n", "x: &x [1, 2]\ny: *x\n",
            "b: &b {x: 1}\nc: {<<: *b, y: 2}\n", "num_pes: 010\n", "a: 1\na: 2\n", "[[[1]]]"]
    for doc in docs:
        results = []
        for loader in (safe_yaml.CBoundedLoader, safe_yaml.BoundedLoader):
            try:
                instance = loader(doc)
                results.append(repr(instance.get_single_data()))
            except safe_yaml.YamlError as err:
                results.append(str(err))
        assert results[0] == results[1], doc
