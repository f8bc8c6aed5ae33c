"""The one-screen summary printed at the end of a run."""

from __future__ import annotations

from dataclasses import dataclass, field

from zoo.secrets import mask
from zoo.tracking.reach import is_server
from zoo.tracking.ui_view import experiment_page


@dataclass
class TrainResult:
    """What a finished run produced; sweeps read `best_value` and `metrics`."""

    run_id: str
    experiment_name: str
    tracking_uri: str
    monitor: str
    best_value: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    best_checkpoint: str | None = None
    output_dir: str = ""
    num_parameters: int = 0
    seconds: float = 0.0
    truncated: bool = False  # trainer.max_time ended training: not a fixed-budget result
    experiment_id: str = ""


def browse_lines(tracking_uri: str, experiment_id: str) -> list[str]:
    """Where to see the run: the experiment's runs table, in the UI's training mode."""
    link = mask(experiment_page(tracking_uri, experiment_id))
    if is_server(tracking_uri):
        return [f" browse at       {link}"]
    return [" browse with     make ui, then open", f"                 {link}"]


def format_summary(result: TrainResult) -> str:
    lines = [
        "",
        "=" * 64,
        f" lstm-zoo run finished in {result.seconds:,.0f} s",
        "=" * 64,
        f" experiment      {result.experiment_name}",
        f" MLflow run id   {result.run_id}",
        f" tracking URI    {mask(result.tracking_uri)}",
        f" parameters      {result.num_parameters:,}",
    ]
    if result.best_value is not None:
        lines.append(f" best {result.monitor:<10} {result.best_value:.4f}")
    if result.truncated:
        lines.append(" TRUNCATED       trainer.max_time stopped training: the figures depend on this machine's "
                     "speed (tag zoo.truncated=true; benchmarks and promotion refuse it)")
    for key in sorted(result.metrics):
        lines.append(f" {key:<15} {result.metrics[key]:.4f}")
    lines += [
        f" checkpoint      {result.best_checkpoint or '-'}",
        f" outputs         {result.output_dir}",
        *browse_lines(result.tracking_uri, result.experiment_id),
        "=" * 64,
    ]
    return "\n".join(lines)
