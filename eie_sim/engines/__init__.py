"""Engines: one subpackage per accelerator, plus the PE-array substrate EIE and the dense
baseline share. Each accelerator's ``model`` module implements :mod:`eie_sim.accelerator`;
engines only count (:class:`~eie_sim.engines.record.LayerRun`), energy is priced afterwards."""
