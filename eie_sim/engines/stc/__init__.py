"""N:M structured-sparse tensor core (NVIDIA Ampere/Hopper style) and its dense twin.

Engines ``des`` (SimPy, one component per hardware unit) and ``fast`` (recurrence + closed
forms) implement the model of docs/STC_MODEL.md and agree exactly on cycles, per-tensor-core
statistics, every counter and the output bits. Run them through the one facade::

    from eie_sim import simulate, STCConfig
    result = simulate(STCConfig.preset("a100"), "alexnet-fc7")

Modules: ``counters`` (catalogue), ``adapter`` (N:M pruning, quantization, batching),
``common`` (the work decomposition, operands, geometry, traffic), ``model`` (the accelerator
interface the registry reads), ``reference``, ``fast``, ``des/``.
"""
