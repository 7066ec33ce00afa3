"""ESE (Han et al., "ESE: Efficient Speech Recognition Engine with Sparse LSTM on FPGA",
FPGA 2017): channels of EIE-style sparse PEs running a whole LSTM layer (docs/ESE_MODEL.md).

Modules: ``counters`` (catalogue, a leaf), ``common`` (the 12-bit interleaved CSC encoding, the
per-phase plan and the scheduler's rules both engines implement), ``fast`` (vectorised), ``des``
(SimPy, one class per block), ``model`` (the accelerator interface). This ``__init__`` imports
nothing.
"""
