"""``eie-sim run``: simulate a workload on one machine and report cycles, energy, traffic."""

from __future__ import annotations

import sys

from eie_sim.cli._args import add_arch_arguments, arch_config, examples, float_arg, int_arg
from eie_sim.errors import EieSimError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run", help="simulate a workload and print cycles, time, energy and activity",
        description="Simulate a named workload, a synthetic layer or your own weights on one "
                    "machine; print per-layer cycles, energy, memory traffic and activity.",
        epilog=examples(
            "eie-sim run --workload alexnet --engine des",
            "eie-sim run --workload alexnet-fc7 --pes 32 --queue-depth 4 --json out.json",
            "eie-sim run --inputs 4096 --outputs 1024 --weight-density 0.1 "
            "--activation-density 0.4",
            "eie-sim run --arch stc --preset a100 --workload alexnet-fc7 --batch 64",
            "eie-sim run --weights m.safetensors --tensor fc1.weight --activations x.npy"))
    src = p.add_argument_group("workload (a name, or a synthetic layer)")
    src.add_argument("--workload", metavar="NAME", help="named workload (see 'eie-sim workloads')")
    src.add_argument("--inputs", type=int_arg, metavar="N", help="synthetic layer inputs")
    src.add_argument("--outputs", type=int_arg, metavar="M", help="synthetic layer outputs")
    src.add_argument("--weight-density", type=float_arg, metavar="D", help="in [0, 1]")
    src.add_argument("--activation-density", type=float_arg, metavar="D", help="in [0, 1]")
    src.add_argument("--output-density", type=float_arg, metavar="D", default=0.5,
                     help="bias target: fraction of outputs > 0 (default 0.5)")
    src.add_argument("--seed", type=int_arg, metavar="S",
                     help="seed (default: the workload's own; 0 for synthetic layers)")
    own = p.add_argument_group("your own weights (.npz or .safetensors)")
    own.add_argument("--weights", metavar="FILE", help="weights file")
    own.add_argument("--tensor", metavar="NAME", help="weight tensor (outputs x inputs)")
    own.add_argument("--bias-tensor", metavar="NAME", help="bias tensor (outputs)")
    own.add_argument("--bias-codebook", choices=["separate", "weights"], default="separate",
                     help="quantize the bias with a codebook of its own (default) or with the "
                          "layer's weight codebook, as the EIE authors' flow does")
    own.add_argument("--transpose", action="store_true", help="the tensor is (inputs x outputs)")
    own.add_argument("--prune-density", type=float_arg, metavar="D",
                     help="magnitude-prune to this density first")
    own.add_argument("--activations", metavar="FILE.npy",
                     help="input activations (or give --activation-density)")
    own.add_argument("--prune", action="store_true",
                     help="tensor cores: N:M-prune weights that violate the pattern (default: "
                          "refuse them; named and synthetic workloads are always N:M-pruned)")
    add_arch_arguments(p.add_argument_group("architecture (every config field is a flag)"))
    out = p.add_argument_group("simulation and output")
    out.add_argument("--engine", default="fast", choices=["fast", "des"],
                     help="fast (vectorised, default) or des (SimPy); they agree exactly")
    out.add_argument("--energy", default="default", metavar="TABLE",
                     help="energy table: the machine's own (default), 45nm, 7nm, gpu-7nm or a "
                          "YAML file")
    out.add_argument("--timing-only", action="store_true",
                     help="tensor cores: cycles, counters and energy without output values")
    out.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    out.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_workload(args):
    """The workload the run's flags name: a registered one, the user's weights, or synthetic."""
    from eie_sim.workloads import LayerSpec, get_workload, single_layer

    if args.weights is not None:
        from eie_sim.workloads.loaders import user_workload

        if args.workload is not None or args.inputs is not None:
            raise EieSimError("give one of --workload, --weights or a synthetic layer")
        if args.tensor is None:
            raise EieSimError("--weights needs --tensor NAME (the weight tensor)")
        return user_workload(args.weights, args.tensor, bias=args.bias_tensor,
                             transpose=args.transpose, prune_density=args.prune_density,
                             activations=args.activations,
                             activation_density=args.activation_density,
                             seed=args.seed or 0, bias_codebook=args.bias_codebook)
    synthetic = [args.inputs, args.outputs, args.weight_density, args.activation_density]
    if args.workload is not None:
        if any(v is not None for v in synthetic):
            raise EieSimError("give either --workload or a synthetic layer "
                              "(--inputs/--outputs/--weight-density/--activation-density), "
                              "not both")
        return get_workload(args.workload, args.seed)
    if any(v is None for v in synthetic):
        raise EieSimError("no workload: give --workload NAME, or all of --inputs, --outputs, "
                          "--weight-density and --activation-density")
    spec = LayerSpec(name=f"synthetic-{args.inputs}x{args.outputs}", inputs=args.inputs,
                     outputs=args.outputs, weight_density=args.weight_density,
                     activation_density=args.activation_density,
                     seed=0 if args.seed is None else args.seed,
                     output_density=args.output_density)
    return single_layer(spec, description="synthetic layer")


def _accuracy(config, args) -> dict:
    """digits-mlp: the explicit accuracy evaluation over the test images, of the same model
    (seed) the run simulated. A machine with a batch and an N:M pattern (the tensor cores) runs
    all images as one batch, on the model pruned to its pattern; a PE array, image by image."""
    from eie_sim.config import parse_pattern
    from eie_sim.workloads import DEFAULT_SEED, digits

    seed = DEFAULT_SEED if args.seed is None else args.seed  # as get_workload's default
    if {"batch", "pattern"} <= set(config.to_dict()):
        n, m = parse_pattern(config.pattern)
        return digits.evaluate_tensor_core(config, seed=seed, n=n, m=m, engine=args.engine,
                                           energy=args.energy)
    return digits.evaluate(config, seed=seed, engine=args.engine, energy=args.energy)


def run(args) -> int:
    from eie_sim.report import format_run
    from eie_sim.result import check_writable, write_atomic
    from eie_sim.simulate import simulate

    if args.json:
        check_writable(args.json)
    config = arch_config(args)
    workload = build_workload(args)
    show = not args.no_progress and sys.stderr.isatty()
    result = simulate(config, workload, engine=args.engine, progress=show, energy=args.energy,
                      nm_prune=args.prune or args.weights is None,
                      values=not args.timing_only)
    if workload.name == "digits-mlp" and not args.timing_only:
        result.info["accuracy"] = _accuracy(config, args)
    if args.json:
        write_atomic(args.json, result.to_json())
    print(format_run(result))
    return 0
