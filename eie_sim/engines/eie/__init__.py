"""EIE engines: ``des`` (SimPy, one component per hardware block) and ``fast`` (vectorised).

Both implement the cycle model of ``docs/MODEL.md``; ``tests/test_eie_equivalence.py`` proves
they agree exactly on cycles, per-PE statistics, every counter and the output vector.
"""
