"""The PE array's SimPy blocks: central control unit with a pluggable scan policy, activation
queues, DRAM weight stream, the generic processing element (queue pops, arithmetic unit,
activation read/write, drain) around a pluggable column source, and the pass loop.

EIE (:mod:`eie_sim.engines.eie.des`) plugs in the leading non-zero detection and the sparse
column source; the dense baseline (:mod:`eie_sim.engines.dense.des`) every activation and a
weight SRAM read unit.
"""
