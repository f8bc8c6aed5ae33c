"""`zoo-throughput [--batches N] [--repeats R] [--threads T] [--cores | --precision P] [--out FILE] [overrides]` (or
`python -m zoo.throughput`; `make throughput`, `make bench` for one more release).

Throughput, in tokens/s and CPU time: the zoo's training step against a plain PyTorch loop and
length-bucketed packed batches against naive padding (`zoo.training.pipeline_speed`, which
says how and why it measures that way); with `--cores`, every recurrent core against
nn.LSTM on the same batches (`zoo.training.core_speed`); with `--precision bf16-mixed`, the zoo
step in fp32 against bf16 autocast (`zoo.training.precision_speed`). Not to be confused with a
benchmark (`zoo-benchmark`: recipes over seeds)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from zoo.cli import ZooCommand, overrides_argument
from zoo.training.core_speed import compare_cores, format_cores
from zoo.training.pipeline_speed import format_results, quiet_lightning, run, set_threads
from zoo.training.precision_speed import compare_precisions, format_precisions


@click.command("zoo-throughput", cls=ZooCommand)
@click.option("--batches", type=click.IntRange(min=1), default=150, help="Training batches per measurement.")
@click.option("--repeats", type=click.IntRange(min=1), default=5, help="Interleaved measurements per figure.")
@click.option("--threads", type=click.IntRange(min=1), default=1,
              help="Torch CPU threads (1: no OpenMP barriers for a busy neighbour to stall, and process CPU time "
                   "counts no idle spinning).")
@click.option("--cores", is_flag=True,
              help="Instead: one table of every recurrent core's training tokens/s and ratio to nn.LSTM, "
                   "on the same batches.")
@click.option("--precision", type=click.Choice(["bf16-mixed", "16-mixed", "bf16-true"]),
              help="Instead: the zoo step in fp32 against this precision, on the same batches of any task "
                   "(task=generation for the char LM).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON here.")
@overrides_argument
def main(batches: int, repeats: int, threads: int, cores: bool, precision: str | None, out: Path | None,
         overrides: tuple[str, ...]) -> int:
    """Throughput: the zoo's training step against a plain PyTorch loop, and length-bucketed
    packed batches against naive padding; with --cores, every recurrent core against
    nn.LSTM. Other KEY=VALUE arguments are Hydra overrides (e.g. model=bilstm)."""
    quiet_lightning()
    set_threads(threads)  # before any torch work, so the pools start at this size
    if cores and precision:
        raise click.UsageError("--cores and --precision are two different tables: give one")
    if cores:
        results = compare_cores(list(overrides), batches, repeats)
        print(format_cores(results))
    elif precision:
        results = compare_precisions(list(overrides), precision, batches, repeats)
        print(format_precisions(results))
    else:
        results = run(list(overrides), batches, repeats)
        print(format_results(results))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
