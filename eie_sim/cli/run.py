"""``eie-sim run``: simulate a workload on one machine and report cycles, energy, traffic."""

from __future__ import annotations

import contextlib
import sys

from eie_sim.cli._args import add_arch_arguments, arch_config, examples, float_arg, int_arg
from eie_sim.compress.pruning import PRUNE_METHODS
from eie_sim.errors import EieSimError

TOPOLOGY_SUFFIXES_TEXT = (".yaml", ".yml")


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
            "eie-sim run --weights m.safetensors --tensor fc1.weight --activations x.npy",
            "eie-sim run --weights model.safetensors --activation-density 0.5   # every layer",
            "eie-sim run --weights net.yaml --activations x.npy   # a topology file",
            "eie-sim run --workload alexnet --json - | jq .layers[0].cycles",
            "eie-sim run --workload alexnet --csv layers.csv",
            "eie-sim run --workload alexnet-fc8 --pes 8 --engine des --trace trace.json"))
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
    own = p.add_argument_group("your own weights (.npz, .safetensors or a topology .yaml)")
    own.add_argument("--weights", metavar="FILE",
                     help="weights file: with --tensor one layer; without, every 2-D tensor "
                          "as a chained network (ReLU between layers, biases matched by name); "
                          "or a topology YAML naming tensors, biases and order "
                          "(docs/WORKLOADS.md)")
    own.add_argument("--tensor", metavar="NAME", help="weight tensor (outputs x inputs)")
    own.add_argument("--bias-tensor", metavar="NAME", help="bias tensor (outputs), with --tensor")
    own.add_argument("--bias-codebook", choices=["separate", "weights"], default="separate",
                     help="quantize the bias with a codebook of its own (default) or with the "
                          "layer's weight codebook, as the EIE authors' flow does")
    own.add_argument("--transpose", action="store_true", help="the tensor is (inputs x outputs)")
    own.add_argument("--prune-density", type=float_arg, metavar="D",
                     help="magnitude-prune to this density first")
    own.add_argument("--activations", metavar="FILE.npy",
                     help="input activations (or give --activation-density)")
    own.add_argument("--prune", nargs="?", const="n:m", choices=PRUNE_METHODS, metavar="METHOD",
                     help="an LSTM workload (ese-lstm, nt-lstm, digits-lstm): prune it by "
                          "magnitude, load-balance (over the machine's PEs) or n:m; tensor "
                          "cores: --prune (n:m) N:M-prunes weights that violate the pattern "
                          "(default: refuse them; named and synthetic workloads are always "
                          "N:M-pruned)")
    add_arch_arguments(p.add_argument_group("architecture (every config field is a flag)"))
    out = p.add_argument_group("simulation and output")
    out.add_argument("--engine", default="fast", choices=["fast", "des"],
                     help="fast (vectorised, default) or des (SimPy); they agree exactly")
    out.add_argument("--energy", default="default", metavar="TABLE",
                     help="energy table: the machine's own (default), 45nm, 7nm, gpu-7nm or a "
                          "YAML file")
    out.add_argument("--timing-only", action="store_true",
                     help="tensor cores: cycles, counters and energy without output values")
    out.add_argument("--json", metavar="PATH",
                     help="also write the result as JSON; '-' for stdout (the text report then "
                          "goes to stderr)")
    out.add_argument("--csv", metavar="PATH",
                     help="also write one row per layer (flat columns: sizes, cycles, time, "
                          "utilization, energy by unit, traffic by level, every counter); '-' "
                          "for stdout")
    out.add_argument("--trace", metavar="PATH",
                     help="--engine des: write a Chrome/Perfetto trace of the run (per-unit "
                          "busy/stall/idle spans, queue occupancy, passes; open it in "
                          "ui.perfetto.dev; docs/OUTPUTS.md)")
    out.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_workload(args, config=None):
    """The workload the run's flags name: a registered one, the user's weights, or synthetic
    (``config``: the machine, whose PEs a load-balance-pruned LSTM is balanced over)."""
    from eie_sim.workloads import LayerSpec, get_workload, single_layer

    prune_lstm = False  # --prune rebuilds a named LSTM workload with that pruning
    if args.prune is not None:
        from eie_sim.workloads.lstm import LSTM_WORKLOADS

        prune_lstm = args.workload in LSTM_WORKLOADS
        if args.prune != "n:m" and not prune_lstm:
            raise EieSimError(f"--prune {args.prune} chooses how an LSTM workload is pruned "
                              f"({', '.join(LSTM_WORKLOADS)}); for FC weights --prune-density "
                              "prunes by magnitude, and --prune (n:m) lets a tensor core "
                              "N:M-prune")
    if args.weights is not None:
        from eie_sim.workloads.loaders import user_workload

        if args.workload is not None or args.inputs is not None:
            raise EieSimError("give one of --workload, --weights or a synthetic layer")
        if args.tensor is None:
            from eie_sim.workloads.model_file import model_workload

            if args.bias_tensor is not None:
                raise EieSimError("--bias-tensor goes with --tensor; without --tensor every "
                                  "layer's bias is matched by name")
            return model_workload(args.weights, transpose=args.transpose,
                                  prune_density=args.prune_density,
                                  activations=args.activations,
                                  activation_density=args.activation_density,
                                  seed=args.seed or 0, bias_codebook=args.bias_codebook)
        if args.weights.endswith(TOPOLOGY_SUFFIXES_TEXT):
            raise EieSimError("--tensor picks a tensor of a weights file (.npz, .safetensors); "
                              "a topology YAML names its tensors itself")
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
        if prune_lstm:
            from eie_sim.workloads.lstm import named_lstm

            return named_lstm(args.workload, args.seed, args.prune,
                              getattr(config, "num_pes", None))
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


def _outputs(args) -> None:
    """Check the output paths before a long run: at most one of them is stdout ('-')."""
    from eie_sim.result import check_writable

    to_stdout = [f"--{k}" for k in ("json", "csv") if getattr(args, k) == "-"]
    if len(to_stdout) > 1:
        raise EieSimError(f"only one output can go to stdout; {' and '.join(to_stdout)} are "
                          "both '-'")
    for path in (args.json, args.csv, args.trace):
        if path and path != "-":
            check_writable(path)
    if args.trace == "-":
        raise EieSimError("--trace needs a file path (a trace is large); '-' is not allowed")
    if args.trace and args.engine != "des":
        raise EieSimError("--trace records the discrete-event engine; add --engine des")


def run(args) -> int:
    from eie_sim.report import format_run, layer_csv
    from eie_sim.result import write_atomic
    from eie_sim.simulate import simulate

    _outputs(args)
    config = arch_config(args)
    workload = build_workload(args, config)
    show = not args.no_progress and sys.stderr.isatty()
    recording = contextlib.nullcontext
    if args.trace:
        from eie_sim.trace import recording
    with recording() as recorder:
        result = simulate(config, workload, engine=args.engine, progress=show,
                          energy=args.energy,
                          nm_prune=args.prune == "n:m" or args.weights is None,
                          values=not args.timing_only)
    if workload.name == "digits-mlp" and not args.timing_only:
        result.info["accuracy"] = _accuracy(config, args)
    outputs = {"json": result.to_json, "csv": lambda: layer_csv(result)}
    stdout = None
    for kind, render in outputs.items():
        path = getattr(args, kind)
        if path == "-":
            stdout = render()
        elif path:
            write_atomic(path, render())
    if recorder is not None:
        write_atomic(args.trace, recorder.to_json(result))
        print(f"trace: {args.trace} ({recorder.summary()})", file=sys.stderr)
    if stdout is not None:  # machine-readable on stdout, the report for people on stderr
        sys.stdout.write(stdout)
        sys.stdout.flush()
        print(format_run(result), file=sys.stderr)
    else:
        print(format_run(result))
    return 0
