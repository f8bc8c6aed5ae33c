"""Gate saturation of one model over one of its data splits: a table, Karpathy et al.'s
scatter plot (one point per unit: fraction of steps left- against right-saturated), a short
markdown summary, and, with `log=true`, all of it on the model's training run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import torch

from zoo.errors import ZooError
from zoo.explain.gates import GATE_NAMES, trace_gates
from zoo.explain.saturation import GateSaturation, SaturationCounter, gate_metrics
from zoo.explain.source import Subject, split_batches
from zoo.figures import figure

COLOURS = {"i": "tab:blue", "f": "tab:green", "o": "tab:red", "r": "tab:purple", "z": "tab:orange"}
RECURRENT_ENCODERS = "lstm, bilstm, gru, lstmp, gates, layernorm or a Greff variant"


@dataclass(frozen=True)
class SaturationReport:
    subject: Subject
    split: str
    rows: int
    result: list[GateSaturation]

    @property
    def metrics(self) -> dict[str, float]:
        return gate_metrics(self.result)

    def table(self) -> str:
        lines = ["| layer | gate | left-saturated (< 0.1) | right-saturated (> 0.9) | units mostly closed | "
                 "units mostly open |", "|---|---|---|---|---|---|"]
        for s in self.result:
            m = s.summary()
            lines.append(f"| {s.layer} | {s.gate} ({GATE_NAMES[s.gate]}) | {m['left']:.3f} | {m['right']:.3f} | "
                         f"{m['units_mostly_closed']:.0%} | {m['units_mostly_open']:.0%} |")
        return "\n".join(lines)

    def markdown(self) -> str:
        steps = self.result[0].steps if self.result else 0
        return (f"## Gate saturation\n\nAs Karpathy, Johnson and Fei-Fei (2015) count it, "
                f"over {self.rows} rows ({steps:,} steps) of its {self.split} split: for each unit, the "
                "fraction of steps its gate is below 0.1 (closed) or above 0.9 (open), averaged over the "
                f"units of each layer.\n\n{self.table()}\n\n![gate saturation](saturation.png)\n")

    def plot(self, path: Path) -> Path:
        layers = sorted({s.layer for s in self.result})
        with figure(path, (4.2 * len(layers), 4)) as (fig, _):
            fig.clf()
            axes = fig.subplots(1, len(layers), squeeze=False)[0]
            for ax, layer in zip(axes, layers, strict=True):
                for s in (s for s in self.result if s.layer == layer):
                    ax.scatter(s.left.numpy(), s.right.numpy(), s=9, alpha=0.6, c=COLOURS[s.gate],
                               label=GATE_NAMES[s.gate])
                ax.plot([0, 1], [1, 0], color="0.7", linewidth=0.8)
                ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="fraction left-saturated (< 0.1)",
                       ylabel="fraction right-saturated (> 0.9)", title=f"{self.subject.encoder} {layer}")
                ax.legend(fontsize=7, loc="upper right")
        return path

    def write(self, folder: Path) -> list[Path]:
        return [self.plot(folder / "saturation.png")]


def log_on_run(subject: Subject, metrics: dict[str, float], files: list[Path]) -> None:
    """Called once everything is computed and written, so a failure before it leaves the run
    as it was: the metrics in one batch, then the files under `explain/` (another dataset's
    under `explain/on_<data>/`, beside the model's own)."""
    prefix = subject.metric_prefix
    client = mlflow.MlflowClient(subject.tracking_uri)
    client.log_batch(subject.run_id, metrics=[mlflow.entities.Metric(prefix + k.removeprefix("explain/"), v, 0, 0)
                                              for k, v in metrics.items()])
    for path in files:
        client.log_artifact(subject.run_id, str(path), prefix.rstrip("/"))


def check_recurrent(subject: Subject) -> None:
    if not getattr(subject.network.encoder, "recurrent", False):
        offers = "token attributions (attributions=true)" if subject.task != "language_model" else "nothing yet"
        raise ZooError(f"{subject.name} is a {subject.encoder} (model.encoder={subject.encoder}): gates and "
                       f"their saturation need a recurrent core ({RECURRENT_ENCODERS}); for it zoo-explain offers "
                       f"{offers}")


def saturation_report(subject: Subject, split: str = "test", limit: int = 500) -> SaturationReport:
    """Trace every gate over up to `limit` rows of `split` and count saturation."""
    check_recurrent(subject)
    encoder, counter, rows = subject.network.encoder, SaturationCounter(), 0
    with torch.inference_mode():
        for batch in split_batches(subject, split, limit):
            lengths = batch.get("lengths")
            counter.add(trace_gates(encoder.rnn, encoder.embedding(batch["input_ids"]), lengths))
            rows += len(batch["input_ids"])
    return SaturationReport(subject, split, rows, counter.result())
