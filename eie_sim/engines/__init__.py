"""Engines: one subpackage per accelerator. Engines only count; energy is priced afterwards."""


def all_counters() -> dict[str, tuple[str, str]]:
    """Every counter any engine reports: name -> (unit, description)."""
    from eie_sim.engines.dense.counters import COUNTERS as DENSE
    from eie_sim.engines.eie.counters import COUNTERS as EIE
    from eie_sim.engines.stc.counters import COUNTERS as STC

    return {**EIE, **DENSE, **STC}
