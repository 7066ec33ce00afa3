"""From dense weights to a compressed layer: magnitude / N:M pruning and k-means weight sharing."""

from eie_sim.compress.pruning import magnitude_prune, nm_prune, satisfies_nm
from eie_sim.compress.weight_sharing import kmeans_codebook

__all__ = ["magnitude_prune", "nm_prune", "satisfies_nm", "kmeans_codebook"]
