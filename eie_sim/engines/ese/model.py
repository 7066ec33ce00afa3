"""ESE behind the accelerator interface (:mod:`eie_sim.accelerator`).

``prepare`` encodes every phase matrix of the LSTM layer for the channel's PEs (12-bit weights,
4-bit relative row index, padding), plans each phase's load and element-wise task, and checks
the buffers; the engines (``des``: SimPy, ``fast``: vectorised) read that plan. ESE runs LSTM
layers (:class:`~eie_sim.workloads.lstm.LSTMLayer`, workloads ``ese-lstm`` and ``nt-lstm``);
the input is ``(input_size, utterances * steps)`` int16, the raw outputs are y_t of every step
of every utterance, ``(R, utterances * steps)`` int16.
"""

from __future__ import annotations

import numpy as np

from eie_sim.accelerator import Prepared, Progress, RunOptions
from eie_sim.config import ESEConfig
from eie_sim.engines.ese import common
from eie_sim.engines.record import LayerRun
from eie_sim.errors import WorkloadError
from eie_sim.workloads.lstm import LSTMLayer, lstm_forward_fixed


def _require_lstm(layer) -> None:
    if not isinstance(layer, LSTMLayer):
        raise WorkloadError(
            f"ESE runs LSTM layers; got a {type(layer).__name__} ({getattr(layer, 'name', '?')!r})"
            "; allowed: the workloads ese-lstm, nt-lstm or eie_sim.workloads.lstm.lstm_workload")


def _check(layer, x: np.ndarray) -> int:
    _require_lstm(layer)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] != layer.n_in or x.shape[1] % layer.steps or not x.shape[1]:
        raise WorkloadError(
            f"LSTM {layer.name!r} takes int16 inputs of shape ({layer.n_in}, utterances x "
            f"{layer.steps} steps), got {x.shape}")
    return x.shape[1] // layer.steps


def prepare(layer: LSTMLayer, x: np.ndarray, config: ESEConfig,
            options: RunOptions) -> Prepared:
    """Encode and plan ``layer`` for ``config`` and check the buffers."""
    utterances = _check(layer, x)
    state = common.prepare_state(layer, utterances, config)
    mem = common.memory_use(state, config)
    common.check_capacity(layer, config, mem)
    warnings = []
    if utterances % config.channels:
        warnings.append(f"{utterances} utterances on {config.channels} channels: "
                        f"{config.channels - utterances % config.channels} channels idle in "
                        "the last round")
    return Prepared(
        layer=layer, x=np.asarray(x), state=state, memory=dict(mem.__dict__), warnings=warnings,
        weight_density=layer.weight_density, activation_density=1.0,
        act_frac_bits=layer.act_frac_bits, effective_weight_density=layer.weight_density)


def run_des(prepared: Prepared, config: ESEConfig, progress: Progress = None) -> LayerRun:
    """The SimPy engine (one component per block)."""
    from eie_sim.engines.ese import des

    return des.run_layer(prepared.state, prepared.x, config, progress)


def run_fast(prepared: Prepared, config: ESEConfig, progress: Progress = None) -> LayerRun:
    """The vectorised engine (the same model as max-plus arithmetic)."""
    from eie_sim.engines.ese import fast

    return fast.run_layer(prepared.state, prepared.x, config, progress)


ENGINES = {"des": run_des, "fast": run_fast}


def reference(prepared: Prepared, config: ESEConfig) -> np.ndarray:
    """The fixed-point functional model's y_t (plain numpy on the layer's CSC matrices)."""
    return lstm_forward_fixed(prepared.layer, prepared.x)


def finish(prepared: Prepared, run: LayerRun, config: ESEConfig) -> tuple[np.ndarray, np.ndarray]:
    """The raw outputs are the fixed-point outputs (y_t of every step) and the next input."""
    return run.outputs, run.outputs


def progress_total(layer: LSTMLayer, config: ESEConfig) -> int:
    """Elements broadcast per channel over all phases of all steps: rounds x T x columns, with
    the rounds of the workload's own utterance count (``layer.spec.utterances``)."""
    _require_lstm(layer)
    rounds = -(-layer.spec.utterances // config.channels)
    return rounds * layer.steps * sum(m.n_cols for m in layer.phases)


def peak_macs_per_cycle(config: ESEConfig) -> int:
    """One multiply-accumulate per PE per cycle, in every channel."""
    return config.channels * config.num_pes


def onchip_sram_bytes(config: ESEConfig) -> int:
    """Both halves of every PE's buffers, plus the channels' activation buffers, bytes."""
    per_pe = 2 * (config.spmat_buffer_bytes + config.ptr_buffer_bytes)
    return config.channels * (config.num_pes * per_pe + config.act_buffer_bytes)


def dram_bandwidth_gbps(config: ESEConfig) -> float:
    """DRAM bandwidth of the weight stream, GB/s."""
    return config.dram_bandwidth_gbps


def issue_bounds(config: ESEConfig, counts: dict[str, int]) -> dict[str, float]:
    """The broadcast bound: one element per cycle per channel (channels run in lockstep)."""
    return {"broadcast": counts["ccu.broadcast"] / config.channels}


geometry = common.geometry
traffic_map = common.traffic_map


def summary(config: ESEConfig) -> str:
    """One line naming the machine."""
    return (f"ESE {config.channels} ch x {config.num_pes} PE, {config.clock_mhz:g} MHz, "
            f"{config.dram_bandwidth_gbps:g} GB/s DRAM, queue depth {config.act_queue_depth}, "
            f"energy {config.energy_table} ({config.technology_nm:g} nm)")
