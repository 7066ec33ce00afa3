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
name is an error that lists the allowed ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from eie_sim import registry
from eie_sim.config import BUNDLED_ENERGY_TABLES
from eie_sim.errors import ConfigError

PRESETS = BUNDLED_ENERGY_TABLES


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
        return sram_read_pj(self.points, capacity_bytes) * width_bits / self.reference_width_bits

    def write_pj(self, capacity_bytes: float, width_bits: int) -> float:
        return self.read_pj(capacity_bytes, width_bits) * self.write_to_read_ratio

    def leakage_mw(self, capacity_bytes: float) -> float:
        return self.leakage_mw_per_kib * capacity_bytes / 1024


def sram_read_pj(points: tuple[tuple[float, float], ...], capacity_bytes: float) -> float:
    """Log-log piecewise-linear interpolation (end slopes extrapolate) of 64-bit read energy."""
    if len(points) == 1:
        return points[0][1]
    x = math.log(capacity_bytes)
    xs = [math.log(c) for c, _ in points]
    ys = [math.log(e) for _, e in points]
    i = 0
    while i < len(xs) - 2 and x > xs[i + 1]:
        i += 1
    slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    return math.exp(ys[i] + slope * (x - xs[i]))


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


def _entry(where: str, unit: str, key: str, value: Any) -> Entry:
    if not isinstance(value, dict):
        raise _fail(where, f"{unit}.{key} must be a mapping like {{pj: 1.0, source: ...}}")
    allowed = {"pj", "source", "sram", "value"}
    extra = sorted(set(value) - allowed)
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
            raise _fail(where, f"{unit}.{key}: sram must be one of {', '.join(want)}, got {kind!r}")
        return Entry(pj=None, sram=kind, source=str(value.get("source", "sram model")))
    number_key = "value" if key == "leakage_mw" else "pj"
    number = value.get(number_key)
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or not (math.isfinite(number) and number >= 0)
    ):
        raise _fail(where, f"{unit}.{key} needs a finite {number_key} >= 0, got {number!r}")
    if not isinstance(value.get("source"), str) or not value["source"].strip():
        raise _fail(where, f"{unit}.{key} needs a source (where the number comes from)")
    return Entry(pj=float(number), sram=None, source=value["source"])


def parse_table(data: Any, where: str) -> EnergyTable:
    """Validate a table's parsed YAML."""
    if not isinstance(data, dict):
        raise _fail(where, "must be a YAML mapping with name, sram and units")
    top = {"name", "technology_nm", "description", "sram", "units"}
    extra = sorted(set(data) - top)
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
    try:
        points = tuple(
            sorted((float(c), float(e)) for c, e in s["read_pj_by_capacity_bytes"].items())
        )
        if any(c <= 0 or e <= 0 or not math.isfinite(e) for c, e in points):
            raise ValueError
        sram = SramModel(
            reference_width_bits=int(s.get("reference_width_bits", 64)),
            points=points,
            write_to_read_ratio=float(s.get("write_to_read_ratio", 1.0)),
            leakage_mw_per_kib=float(s.get("leakage_mw_per_kib", 0.0)),
            source=str(s.get("source", "")),
        )
    except (TypeError, ValueError):
        raise _fail(where, "sram figures must be positive numbers") from None
    units = data["units"]
    if not isinstance(units, dict):
        raise _fail(where, "units must map unit -> action -> {pj, source}")
    known = known_actions()
    actions: dict[str, dict[str, Entry]] = {}
    leakage: dict[str, Entry] = {}
    for unit, body in units.items():
        if unit not in known:
            raise _fail(where, f"unknown unit {unit!r}; allowed: {', '.join(sorted(known))}")
        if not isinstance(body, dict):
            raise _fail(where, f"unit {unit} must map action -> {{pj, source}}")
        for action, value in body.items():
            if action == "leakage_mw":
                leakage[unit] = _entry(where, unit, action, value)
                continue
            if action not in known[unit]:
                raise _fail(
                    where,
                    f"unknown action {unit}.{action}; allowed for {unit}: "
                    f"{', '.join(sorted(known[unit] | {'leakage_mw'}))}",
                )
            actions.setdefault(unit, {})[action] = _entry(where, unit, action, value)
    return EnergyTable(
        name=str(data["name"]),
        technology_nm=float(data.get("technology_nm", 0)),
        description=str(data.get("description", "")),
        sram=sram,
        actions=actions,
        leakage=leakage,
    )


@cache
def _preset(name: str) -> EnergyTable:
    """A bundled table, parsed once per process (package data does not change)."""
    text = resources.files("eie_sim.energy").joinpath(f"tables/{name}.yaml").read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise _fail(name, "is not valid YAML") from None
    return parse_table(data, name)


def load_table(name_or_path: str | Path | EnergyTable = "45nm") -> EnergyTable:
    """A preset (``45nm``, ``7nm``) or a YAML file path."""
    if isinstance(name_or_path, EnergyTable):
        return name_or_path
    text_name = str(name_or_path)
    if text_name in PRESETS:
        return _preset(text_name)
    else:
        path = Path(text_name)
        if not path.is_file():
            raise ConfigError(
                f"energy table {text_name!r} is neither a preset "
                f"({', '.join(PRESETS)}) nor a readable file"
            )
        try:
            text, where = path.read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError:
            raise ConfigError(f"energy table {path} is not a UTF-8 text file") from None
        except OSError as err:
            raise ConfigError(f"cannot read energy table {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise _fail(where, "is not valid YAML") from None
    return parse_table(data, where)
