"""The pricing step: counts x energy per action + leakage power x time.

Engines never see energy. A counter with no price in the table is an error, never a zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eie_sim.energy.table import EnergyTable
from eie_sim.errors import ConfigError


@dataclass(frozen=True)
class UnitGeometry:
    """How many instances of a unit the architecture has, and its SRAM shape if it is one.

    Attributes
    ----------
    instances : int
        Copies of the unit (e.g. one per PE); multiplies leakage.
    capacity_bytes : float or None
        SRAM capacity of one instance, bytes.
    width_bits : int or None
        SRAM access width, bits.
    """

    instances: int = 1
    capacity_bytes: float | None = None
    width_bits: int | None = None


@dataclass
class EnergyReport:
    """Energy of one run, pJ; power at the run's time, mW.

    ``dynamic_by_action`` maps ``unit.action`` to count x price; ``leakage_by_unit`` maps a unit
    to leakage power x instances x time; ``prices_pj`` holds the per-count prices used.
    """

    table: str
    time_us: float
    dynamic_by_action: dict[str, float] = field(default_factory=dict)
    leakage_by_unit: dict[str, float] = field(default_factory=dict)
    prices_pj: dict[str, float] = field(default_factory=dict)

    @property
    def dynamic_pj(self) -> float:
        return sum(self.dynamic_by_action.values())

    @property
    def leakage_pj(self) -> float:
        return sum(self.leakage_by_unit.values())

    @property
    def total_pj(self) -> float:
        return self.dynamic_pj + self.leakage_pj

    @property
    def by_unit(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, pj in self.dynamic_by_action.items():
            unit = name.rsplit(".", 1)[0]
            out[unit] = out.get(unit, 0.0) + pj
        for unit, pj in self.leakage_by_unit.items():
            out[unit] = out.get(unit, 0.0) + pj
        return out

    @property
    def power_mw(self) -> float:
        """Average power: pJ / us = uW, / 1000 = mW."""
        return self.total_pj / self.time_us / 1e3 if self.time_us > 0 else 0.0

    def __add__(self, other: EnergyReport) -> EnergyReport:
        out = EnergyReport(
            table=self.table,
            time_us=self.time_us + other.time_us,
            prices_pj={**self.prices_pj, **other.prices_pj},
        )
        for src in (self, other):
            for k, v in src.dynamic_by_action.items():
                out.dynamic_by_action[k] = out.dynamic_by_action.get(k, 0.0) + v
            for k, v in src.leakage_by_unit.items():
                out.leakage_by_unit[k] = out.leakage_by_unit.get(k, 0.0) + v
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "total": self.total_pj,
            "dynamic": self.dynamic_pj,
            "leakage": self.leakage_pj,
            "by_unit": self.by_unit,
            "by_action": dict(self.dynamic_by_action),
            "leakage_by_unit": dict(self.leakage_by_unit),
            "prices_pj": dict(self.prices_pj),
        }


def price(
    counts: dict[str, int], table: EnergyTable, geometry: dict[str, UnitGeometry], time_us: float
) -> EnergyReport:
    """Price ``counts`` with ``table``; ``geometry`` gives each unit's instances and SRAM shape.

    Leakage is charged for every unit in ``geometry`` (the units the architecture has).
    """
    report = EnergyReport(table=table.name, time_us=time_us)
    for name, count in counts.items():
        unit, action = name.rsplit(".", 1)
        entry = table.actions.get(unit, {}).get(action)
        if entry is None:
            raise ConfigError(
                f"energy table {table.name!r} has no price for {name}; "
                f"add {unit}: {{{action}: {{pj: ..., source: ...}}}}"
            )
        p = _price_of(entry, unit, action, table, geometry)
        report.prices_pj[name] = p
        report.dynamic_by_action[name] = count * p
    for unit, geo in geometry.items():
        entry = table.leakage.get(unit)
        if entry is None:
            raise ConfigError(f"energy table {table.name!r} has no leakage_mw for unit {unit}")
        if entry.sram is not None:
            if geo.capacity_bytes is None:
                raise ConfigError(f"unit {unit} is priced as an SRAM but has no capacity")
            mw = table.sram.leakage_mw(geo.capacity_bytes)
        else:
            mw = entry.pj
        report.leakage_by_unit[unit] = mw * geo.instances * time_us * 1e3  # mW x us = nJ
    return report


def _price_of(
    entry, unit: str, action: str, table: EnergyTable, geometry: dict[str, UnitGeometry]
) -> float:
    if entry.sram is None:
        return entry.pj
    geo = geometry.get(unit)
    if geo is None or geo.capacity_bytes is None or geo.width_bits is None:
        raise ConfigError(
            f"unit {unit} is priced as an SRAM but the architecture gives it no capacity and width"
        )
    if entry.sram == "read":
        return table.sram.read_pj(geo.capacity_bytes, geo.width_bits)
    return table.sram.write_pj(geo.capacity_bytes, geo.width_bits)
