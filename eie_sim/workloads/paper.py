"""The benchmark layers of the EIE paper (Table III) and the chained AlexNet / VGG FC stacks.

Sizes are ``inputs x outputs``; densities are the paper's. Each single layer's bias targets the
activation density the paper reports for the *next* layer of its network (FC6 -> FC7's 35.3 %,
...); last layers and the NeuralTalk layers target 50 %. In the chained workloads ``alexnet``
and ``vgg`` the second and third layers take the actual simulated outputs of the layer before
(ReLU is the next layer's input-side ReLU), and each bias is calibrated on that actual input.

``statistics="realistic"`` builds the same shapes and densities with the measured row/column
spread and activation structure of :mod:`eie_sim.workloads.synthetic` (the same parameters for
every layer, never fitted to the paper's timings); the default ``"uniform"`` is i.i.d.
"""

from __future__ import annotations

from eie_sim.workloads.synthetic import LayerSpec

#: name: (inputs, outputs, weight density, activation density, next layer's activation density)
TABLE_III: dict[str, tuple[int, int, float, float, float]] = {
    "alexnet-fc6": (9216, 4096, 0.09, 0.351, 0.353),
    "alexnet-fc7": (4096, 4096, 0.09, 0.353, 0.375),
    "alexnet-fc8": (4096, 1000, 0.25, 0.375, 0.5),
    "vgg-fc6": (25088, 4096, 0.04, 0.183, 0.375),
    "vgg-fc7": (4096, 4096, 0.04, 0.375, 0.411),
    "vgg-fc8": (4096, 1000, 0.23, 0.411, 0.5),
    "neuraltalk-we": (4096, 600, 0.10, 1.0, 0.5),
    "neuraltalk-wd": (600, 8791, 0.11, 1.0, 0.5),
    "neuraltalk-lstm": (1201, 2400, 0.10, 1.0, 0.5),
}

NETWORKS: dict[str, tuple[str, ...]] = {
    "alexnet": ("alexnet-fc6", "alexnet-fc7", "alexnet-fc8"),
    "vgg": ("vgg-fc6", "vgg-fc7", "vgg-fc8"),
}

DEFAULT_SEED = 2016


def layer_spec(name: str, seed: int = DEFAULT_SEED, statistics: str = "uniform") -> LayerSpec:
    """The :class:`LayerSpec` of a Table III layer.

    Parameters
    ----------
    name : str
        A key of :data:`TABLE_III`.
    seed : int
        Workload seed (>= 0); the layer's own seed is ``seed * 100 + its index``.
    statistics : {"uniform", "realistic"}
        How positions and inputs are drawn (:mod:`eie_sim.workloads.synthetic`).
    """
    n_in, n_out, wd, ad, next_ad = TABLE_III[name]
    index = list(TABLE_III).index(name)
    return LayerSpec(
        name=name,
        inputs=n_in,
        outputs=n_out,
        weight_density=wd,
        activation_density=ad,
        seed=seed * 100 + index,
        output_density=next_ad,
        statistics=statistics,
    )
