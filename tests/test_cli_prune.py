"""``eie-sim run --prune METHOD``: the pruning of an LSTM workload (magnitude, load-balance over
the machine's PEs, n:m); bare ``--prune`` stays the tensor cores' N:M pruning; anything else is
one line, exit 2."""

from __future__ import annotations

import json

import pytest

from eie_sim.cli import build_parser, main
from eie_sim.cli._args import arch_config
from eie_sim.cli.run import build_workload


def parse(*argv):
    return build_parser().parse_args(["run", *argv])


def test_bare_prune_is_n_m_and_no_prune_is_none():
    assert parse("--workload", "alexnet-fc8", "--prune").prune == "n:m"
    assert parse("--workload", "alexnet-fc8").prune is None


@pytest.mark.parametrize("method", ["magnitude", "load-balance"])
def test_an_lstm_workload_is_pruned_as_asked_over_the_machines_pes(method, monkeypatch):
    import eie_sim.workloads.lstm as lstm

    seen = {}
    monkeypatch.setattr(lstm, "lstm_workload", lambda spec: seen.setdefault("spec", spec))
    args = parse("--workload", "nt-lstm", "--arch", "ese", "--pes", "16", "--prune", method,
                 "--seed", "5")
    build_workload(args, arch_config(args))
    spec = seen["spec"]
    assert (spec.name, spec.prune, spec.prune_pes, spec.seed) == ("nt-lstm", method, 16, 5)


def test_digits_lstm_runs_with_either_pruning_and_load_balance_is_faster(tmp_path):
    pytest.importorskip("sklearn")
    cycles = {}
    for method in ("magnitude", "load-balance"):
        out = tmp_path / f"{method}.json"
        assert main(["run", "--workload", "digits-lstm", "--arch", "ese", "--pes", "8",
                     "--prune", method, "--json", str(out)]) == 0
        data = json.loads(out.read_text())
        assert data["info"]["prune"] == method
        assert data["layers"][0]["outputs_match_reference"] is True
        cycles[method] = data["layers"][0]["cycles"]
    assert cycles["load-balance"] < cycles["magnitude"]


@pytest.mark.parametrize("argv,message", [
    (["--workload", "alexnet-fc8", "--prune", "magnitude"],
     "--prune magnitude chooses how an LSTM workload is pruned"),
    (["--inputs", "8", "--outputs", "8", "--weight-density", "0.5", "--activation-density",
      "0.5", "--prune", "load-balance"], "--prune load-balance chooses how an LSTM workload"),
    (["--workload", "ese-lstm", "--arch", "ese", "--prune"],
     "n:m pruning: the input dimension 153 is not a multiple of M=4"),
    (["--workload", "alexnet-fc8", "--prune", "random"], "invalid choice: 'random'"),
])
def test_bad_prune_choices_are_one_line_exit_2(argv, message, capsys):
    assert main(["run", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
