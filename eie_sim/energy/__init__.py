"""Energy: reference tables (YAML, with sources) and the pricing step that turns counts into pJ.

Engines only count; :func:`price` prices a run's counts afterwards, in the spirit of
Accelergy's energy reference tables.
"""

from eie_sim.energy.pricing import EnergyReport, UnitGeometry, price
from eie_sim.energy.table import EnergyTable, load_table, sram_read_pj

__all__ = ["EnergyReport", "EnergyTable", "UnitGeometry", "load_table", "price", "sram_read_pj"]
