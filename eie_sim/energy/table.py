"""Energy reference tables: load, validate, and the SRAM scaling rule.

A table (``tables/45nm.yaml``, ``tables/7nm.yaml`` or a user's file) maps
``unit -> action -> {pj, source}`` plus ``leakage_mw: {value, source}`` per unit instance.
SRAM units instead say ``{sram: read|write}`` / ``leakage_mw: {sram: leakage}`` and are priced by
the table's ``sram`` model at the capacity and width the architecture gives them:

* **scaling rule**: the 64-bit read energy ``E64(C)`` is interpolated piecewise-linearly in
  log(capacity)-log(energy) through the table's reference points and extrapolated with the
  nearest segment's slope (CACTI-style: sub-linear in capacity — at 45 nm the points give
  E ~ C^0.5, at 7 nm ~ C^0.1); a ``W``-bit access costs ``E64(C) * W / 64`` (energy linear in
  the bits moved); a write costs ``write_to_read_ratio`` times a read;
* **leakage**: ``leakage_mw_per_kib`` x capacity in KiB.

Unit and action names are checked against the counters the engines can produce; an unknown
name is an error that lists the allowed ones. Every other figure is checked too: a finite number
in its range (:data:`MAX_PJ`, ...), texts of bounded length; a file is a regular file of at most
1 MiB parsed by :func:`eie_sim.safe_yaml.load`.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eie_sim import disk_cache, registry
from eie_sim.config import BUNDLED_ENERGY_TABLES
from eie_sim.errors import ConfigError
from eie_sim.limits import excerpt, read_text_file

PRESETS = BUNDLED_ENERGY_TABLES

#: Bounds of a table's figures: a price or leakage of at most 1e9 pJ (1 mJ) / 1e9 mW, SRAM
#: reference points of at most 2**50 bytes and at least 1e-6 pJ, at most 64 of them; texts
#: (names, sources, descriptions) of at most 4096 characters.
MAX_PJ = 1e9
MIN_SRAM_PJ = 1e-6
MAX_SRAM_BYTES = float(1 << 50)
MAX_SRAM_POINTS = 64
MAX_TEXT = 4096
SRAM_KEYS = frozenset({"read_pj_by_capacity_bytes", "reference_width_bits", "write_to_read_ratio",
                       "leakage_mw_per_kib", "source", "leakage_source"})


def known_actions() -> dict[str, set[str]]:
    """Every unit -> actions any engine counts (the names a table may price)."""
    out: dict[str, set[str]] = {unit: set() for unit in registry.static_units()}
    for name in registry.all_counters():
        unit, action = name.rsplit(".", 1)
        out.setdefault(unit, set()).add(action)
    return out


@dataclass(frozen=True)
class SramModel:
    """The SRAM scaling rule of a table (see module docstring)."""

    reference_width_bits: int
    points: tuple[tuple[float, float], ...]  # (capacity bytes, 64-bit read pJ), sorted
    write_to_read_ratio: float
    leakage_mw_per_kib: float
    source: str

    def read_pj(self, capacity_bytes: float, width_bits: int) -> float:
        pj = sram_read_pj(self.points, capacity_bytes) * width_bits / self.reference_width_bits
        if not pj <= MAX_PJ:  # steep extrapolation far outside the reference points
            raise ConfigError(
                f"the energy table's SRAM model prices a {width_bits}-bit read of a "
                f"{capacity_bytes:g}-byte SRAM at {pj:.3g} pJ; allowed: at most {MAX_PJ:g} pJ "
                "(check its read_pj_by_capacity_bytes points)")
        return pj

    def write_pj(self, capacity_bytes: float, width_bits: int) -> float:
        return self.read_pj(capacity_bytes, width_bits) * self.write_to_read_ratio

    def leakage_mw(self, capacity_bytes: float) -> float:
        return self.leakage_mw_per_kib * capacity_bytes / 1024


def sram_read_pj(points: tuple[tuple[float, float], ...], capacity_bytes: float) -> float:
    """Log-log piecewise-linear interpolation (end slopes extrapolate) of 64-bit read energy."""
    if len(points) == 1:
        return points[0][1]
    x = math.log(max(capacity_bytes, 1.0))  # an SRAM of 0 bytes (unused) priced as 1 byte
    xs = [math.log(c) for c, _ in points]
    ys = [math.log(e) for _, e in points]
    i = 0
    while i < len(xs) - 2 and x > xs[i + 1]:
        i += 1
    run = xs[i + 1] - xs[i]
    slope = (ys[i + 1] - ys[i]) / run if run else 0.0
    return math.exp(min(ys[i] + slope * (x - xs[i]), 700.0))  # 700: below float overflow


@dataclass(frozen=True)
class Entry:
    """One priced action: a fixed pJ, or the SRAM model ('read' / 'write')."""

    pj: float | None
    sram: str | None
    source: str


@dataclass(frozen=True)
class EnergyTable:
    """A validated energy reference table."""

    name: str
    technology_nm: float
    description: str
    sram: SramModel
    actions: dict[str, dict[str, Entry]]  # unit -> action -> entry
    leakage: dict[str, Entry]  # unit -> leakage entry (pj field holds mW)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "technology_nm": self.technology_nm}


def _fail(where: str, msg: str) -> ConfigError:
    return ConfigError(f"energy table {where}: {msg}")


def _number(where: str, what: str, value: Any, lo: float, hi: float, *,
            integer: bool = False) -> float:
    """A finite number in ``[lo, hi]`` (an integer if ``integer``), else a one-line error."""
    kind = "an integer" if integer else "a number"
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and (isinstance(value, int) or not integer))
    if ok:
        try:
            ok = math.isfinite(value) and lo <= value <= hi
        except OverflowError:  # an int too large for a float
            ok = False
    if not ok:
        raise _fail(where, f"{what} must be {kind} in [{lo:g}, {hi:g}], got {excerpt(value)}")
    return float(value)


def _text(where: str, what: str, value: Any, *, required: bool = False) -> str:
    """A string of at most :data:`MAX_TEXT` characters (non-empty if ``required``)."""
    if not isinstance(value, str) or (required and not value.strip()):
        need = "a non-empty string" if required else "a string"
        if what.endswith("source") and required:
            raise _fail(where, f"{what.removesuffix(' source')} needs a source (where the "
                        "number comes from)")
        raise _fail(where, f"{what} must be {need}, got {excerpt(value)}")
    if len(value) > MAX_TEXT:
        raise _fail(where, f"{what} is {len(value)} characters long; allowed: at most "
                    f"{MAX_TEXT}")
    return value


def _entry(where: str, unit: str, key: str, value: Any) -> Entry:
    if not isinstance(value, dict):
        raise _fail(where, f"{unit}.{key} must be a mapping like {{pj: 1.0, source: ...}}")
    allowed = {"pj", "source", "sram", "value"}
    extra = sorted(str(k)[:40] for k in value if k not in allowed)[:5]
    if extra:
        raise _fail(
            where,
            f"{unit}.{key} has unknown key(s) {', '.join(extra)}; "
            f"allowed: {', '.join(sorted(allowed))}",
        )
    if "sram" in value:
        kind = value["sram"]
        want = ("leakage",) if key == "leakage_mw" else ("read", "write")
        if kind not in want:
            raise _fail(where, f"{unit}.{key}: sram must be one of {', '.join(want)}, got "
                        f"{excerpt(kind)}")
        source = _text(where, f"{unit}.{key} source", value.get("source", "sram model"))
        return Entry(pj=None, sram=kind, source=source)
    number_key = "value" if key == "leakage_mw" else "pj"
    number = value.get(number_key)
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or not (math.isfinite(number) and 0 <= number <= MAX_PJ)
    ):
        raise _fail(where, f"{unit}.{key} needs a finite {number_key} >= 0, got "
                    f"{excerpt(number)}; allowed: [0, {MAX_PJ:g}]")
    return Entry(pj=float(number), sram=None, source=_text(where, f"{unit}.{key} source",
                                                           value.get("source"), required=True))


def parse_table(data: Any, where: str) -> EnergyTable:
    """Validate a table's parsed YAML."""
    if not isinstance(data, dict):
        raise _fail(where, "must be a YAML mapping with name, sram and units")
    top = {"name", "technology_nm", "description", "sram", "units"}
    extra = sorted(str(k)[:40] for k in data if k not in top)[:5]
    if extra:
        raise _fail(where, f"unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(top))}")
    for key in ("name", "sram", "units"):
        if key not in data:
            raise _fail(where, f"missing {key!r}")
    s = data["sram"]
    if (
        not isinstance(s, dict)
        or not isinstance(s.get("read_pj_by_capacity_bytes"), dict)
        or not s["read_pj_by_capacity_bytes"]
    ):
        raise _fail(where, "sram needs read_pj_by_capacity_bytes: {capacity_bytes: pJ, ...}")
    extra = sorted(str(k)[:40] for k in s if k not in SRAM_KEYS)
    if extra:
        raise _fail(where, f"unknown sram key(s) {', '.join(extra[:5])}; allowed: "
                    f"{', '.join(sorted(SRAM_KEYS))}")
    curve = s["read_pj_by_capacity_bytes"]
    if len(curve) > MAX_SRAM_POINTS:
        raise _fail(where, f"sram read_pj_by_capacity_bytes has {len(curve)} points; allowed: "
                    f"at most {MAX_SRAM_POINTS}")
    points = []
    for c, e in curve.items():
        cap = _number(where, "sram capacity (bytes)", c, 1, MAX_SRAM_BYTES)
        pj = _number(where, f"sram read pJ at {cap:g} bytes", e, MIN_SRAM_PJ, MAX_PJ)
        points.append((cap, pj))
    sram = SramModel(
        reference_width_bits=int(_number(where, "sram reference_width_bits",
                                         s.get("reference_width_bits", 64), 1, 4096,
                                         integer=True)),
        points=tuple(sorted(points)),
        write_to_read_ratio=_number(where, "sram write_to_read_ratio",
                                    s.get("write_to_read_ratio", 1.0), 0, 1000),
        leakage_mw_per_kib=_number(where, "sram leakage_mw_per_kib",
                                   s.get("leakage_mw_per_kib", 0.0), 0, MAX_PJ),
        source=_text(where, "sram source", s.get("source", "")),
    )
    units = data["units"]
    if not isinstance(units, dict):
        raise _fail(where, "units must map unit -> action -> {pj, source}")
    known = known_actions()
    actions: dict[str, dict[str, Entry]] = {}
    leakage: dict[str, Entry] = {}
    for unit, body in units.items():
        if unit not in known:
            raise _fail(where, f"unknown unit {excerpt(unit)}; allowed: {', '.join(sorted(known))}")
        if not isinstance(body, dict):
            raise _fail(where, f"unit {excerpt(unit)} must map action -> {{pj, source}}")
        for action, value in body.items():
            if action == "leakage_mw":
                leakage[unit] = _entry(where, unit, action, value)
                continue
            if action not in known[unit]:
                raise _fail(
                    where,
                    f"unknown action {unit}.{str(action)[:40]}; allowed for {unit}: "
                    f"{', '.join(sorted(known[unit] | {'leakage_mw'}))}",
                )
            actions.setdefault(unit, {})[action] = _entry(where, unit, action, value)
    return EnergyTable(
        name=_text(where, "name", data["name"], required=True),
        technology_nm=(_number(where, "technology_nm", data["technology_nm"], 1.0, 1000.0)
                       if "technology_nm" in data else 0.0),  # 0: not stated
        description=_text(where, "description", data.get("description", "")),
        sram=sram,
        actions=actions,
        leakage=leakage,
    )


@cache
def _preset(name: str) -> EnergyTable:
    """A bundled table, read once per process (package data does not change)."""
    return parse_table(_bundled_data(name), name)


def _bundled_data(name: str) -> Any:
    """The parsed YAML of the bundled table ``name``, kept in the cache directory
    (:mod:`eie_sim.disk_cache`; importing PyYAML takes longer than pricing a run) under the
    SHA-256 of the table's text and the source of this module and of PyYAML, so an edited table
    or another parser is a miss. The YAML file stays the source; the data is validated by
    :func:`parse_table` like freshly parsed YAML."""
    text = bundled_text(name)
    root = disk_cache.cache_root()
    if root is None:
        return parse_bundled(text)
    key = hashlib.sha256(text.encode() + disk_cache.source_key((__name__, "yaml")).encode())
    path = root / f"energy-{name}-{key.hexdigest()[:20]}.json"
    data = disk_cache.load_data(path)
    if data is None:
        data = parse_bundled(text)
        disk_cache.store_data(path, data)
    return data


def parse_bundled(text: str) -> Any:
    """A bundled table's YAML, parsed with libyaml when PyYAML has it: trusted text needs no
    bounds, and tests/test_energy.py checks that it reads every bundled table exactly as
    :func:`eie_sim.safe_yaml.load` does (~20x faster)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def bundled_text(name: str) -> str:
    """The YAML text of the bundled table ``name`` (``tables/<name>.yaml`` in this package)."""
    return (Path(__file__).parent / "tables" / f"{name}.yaml").read_text(encoding="utf-8")


def load_table(name_or_path: str | Path | EnergyTable = "45nm") -> EnergyTable:
    """A preset (``45nm``, ``7nm``) or a YAML file path."""
    if isinstance(name_or_path, EnergyTable):
        return name_or_path
    text_name = str(name_or_path)
    if text_name in PRESETS:
        return _preset(text_name)
    else:
        path = Path(text_name)
        if not os.path.lexists(text_name):
            raise ConfigError(
                f"energy table {excerpt(text_name)} is neither a preset "
                f"({', '.join(PRESETS)}) nor a readable file"
            )
        text, where = read_text_file(path, "energy table"), str(path)
    from eie_sim.safe_yaml import YamlError
    from eie_sim.safe_yaml import load as load_yaml

    try:
        data = load_yaml(text)
    except YamlError as err:
        raise _fail(where, str(err)) from None
    return parse_table(data, where)
