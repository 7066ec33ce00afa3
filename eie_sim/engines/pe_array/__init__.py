"""The PE array EIE and the dense baseline share (the dense baseline is EIE's array without
sparsity support).

A central control unit (CCU) scans the input activations with a pluggable *scan policy* and
broadcasts them into one activation queue per PE; every PE pops its queue, gets the column's
entries from a pluggable *column source* and accumulates them in its arithmetic unit, pass by
pass; with ``weights_from: dram`` a DRAM stream feeds the weights. What differs between the two
machines is only the scan policy (EIE: leading non-zero detection; dense: every activation) and
the column source (EIE: pointer read + sparse-matrix read + weight decoder; dense: a weight SRAM
read unit).

* :mod:`~eie_sim.engines.pe_array.counters`: the counters both machines have (a leaf module);
* :mod:`~eie_sim.engines.pe_array.timing`: the cycle constants of docs/MODEL.md §Timing;
* :mod:`~eie_sim.engines.pe_array.stream`: the DRAM weight stream's byte and cycle arithmetic;
* :mod:`~eie_sim.engines.pe_array.traffic`: the memory traffic both machines share;
* :mod:`~eie_sim.engines.pe_array.recurrence`: the max-plus broadcast recurrence the fast engines
  solve, with the compiled loop of :mod:`~eie_sim.accel`;
* :mod:`~eie_sim.engines.pe_array.des`: the SimPy blocks (CCU, activation queue, DRAM stream,
  PE shell, arithmetic unit, activation read/write) and the pass loop.

This package's ``__init__`` imports nothing, so that the counter catalogues stay leaf modules.
"""
