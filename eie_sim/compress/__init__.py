"""From dense weights to a compressed layer: magnitude, load-balance-aware
and N:M pruning and k-means weight sharing."""

from eie_sim.compress.pruning import (
    PRUNE_METHODS,
    load_balance_prune,
    magnitude_prune,
    nm_prune,
    pe_nonzeros,
    prune,
    satisfies_nm,
)
from eie_sim.compress.weight_sharing import kmeans_codebook

__all__ = [
    "PRUNE_METHODS", "load_balance_prune", "magnitude_prune", "nm_prune", "pe_nonzeros", "prune",
    "satisfies_nm", "kmeans_codebook",
]
