"""The dense baseline: EIE's datapath without sparsity support (``des`` and ``fast`` engines).

Model (docs/MODEL.md, "Dense baseline"): the same broadcast, activation queues, PEs, pipeline
and passes as EIE, but the CCU broadcasts every activation (one per cycle, no leading non-zero
detection), and PE k multiplies every one of its rows' 16-bit weights by it: a column slice
costs ``max(1, rows)`` cycles. Weights are 16-bit values (the layer's shared weights decoded)
stored per PE, pass by pass, column by column, read ``weight_sram_width_bits`` at a time.
"""
