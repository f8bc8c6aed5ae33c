"""`zoo-explain model=<models:/NAME/VERSION | models:/NAME@ALIAS | run id>` (or `python -m
zoo.explain`; `make explain`): what a model learned, over its own data.

- gates (recurrent models): saturation per unit, layer and gate (Karpathy et al. 2015);
- cells (character-level language models): for each concept, the unit that tracks it, chosen
  on validation and scored on test against the untrained architecture, and what holding it
  does to the loss;
- attributions (classifiers, any encoder): integrated gradients and occlusion per token, and
  how faithful each is (ERASER AOPC against a random ordering); `text="..."` explains one text:
  a classifier's prediction token by token, or the characters a language model's next
  character rests on (`target=`, and `foil=` for the contrast with another character).

Printed as tables and written as `explain.md` with its figures and pages; `report=true` logs
them (metrics `explain/...`, files under `explain/`) on the run that trained the model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from zoo.cli import MODEL_URI, Switch, ZooCommand
from zoo.explain.cells import CLAMPS
from zoo.explain.concepts import builtin_names, find_concept
from zoo.explain.source import SPLITS
from zoo.tasks.attribution import IG_TOLERANCE, MAX_STEPS


@click.command("zoo-explain", cls=ZooCommand)
@click.option("--model", required=True, metavar=f"{MODEL_URI}|RUN_ID", help="Registered version or training run.")
@click.option("--text", multiple=True, help="Explain this text (repeat for several): a classifier's tokens and its "
              "prediction, or what a language model's next character rests on.")
@click.option("--html", type=click.Path(dir_okay=False), help="With text=: also write a heatmap page of the texts here "
              "(a language model's with a matrix figure per text beside it).")
@click.option("--traces", type=click.Path(dir_okay=False), help="With text=: also write every gate, cell and "
              "hidden state of every layer at every step of the texts to this .npz (recurrent models).")
@click.option("--split", type=click.Choice(SPLITS), default="test", help="The split explained.")
@click.option("--data", metavar="DATASET", help="Read this dataset (conf/data/<name>.yaml) with the model's tokenizer "
              "and classes instead of its own; report=true logs it under explain/on_<name>/.")
@click.option("--limit", type=click.IntRange(min=2, max=100_000), default=500,
              help="Rows (texts, or language-model windows) of the split to read.")
@click.option("--gates", type=Switch(), help="Gate saturation (default: for every recurrent model).")
@click.option("--cells", type=Switch(), default="true", help="Find the interpretable cells (language models).")
@click.option("--attributions", type=Switch(), help="Token attributions and their faithfulness (default: for "
              "every classifier).")
@click.option("--target", help="With text= on a language model: the next character to explain (default its likeliest).")
@click.option("--foil", help="With text= on a language model: the character to contrast the target with.")
@click.option("--concepts", default=",".join(builtin_names()), show_default=True,
              help="Comma-separated concepts: built-in names or package.module:function.")
@click.option("--clamp", type=click.Choice(CLAMPS), default="mean", show_default=True,
              help="What a found cell is held at for the causal check: its mean, or zero.")
@click.option("--rows", type=click.IntRange(min=2, max=1024), default=32, help="Stretches of text per split for cells.")
@click.option("--length", type=click.IntRange(min=16, max=4096), default=512, help="Characters per stretch.")
@click.option("--n-steps", type=click.IntRange(min=2, max=1000), default=50, help="Integrated gradients' steps.")
@click.option("--tolerance", type=click.FloatRange(min=0, max=1), default=IG_TOLERANCE, show_default=True,
              help=f"Integrated gradients doubles a text's steps (up to {MAX_STEPS}) until its |convergence delta| "
                   "is below this; 0: n_steps only.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the files (default explain/<run id>).")
@click.option("--report", type=Switch(), default="false", help="Log the figures and files on the model's run.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, text: tuple[str, ...], html: str | None, traces: str | None, split: str, data: str | None,
         limit: int, gates: bool | None, cells: bool, attributions: bool | None, target: str | None,
         foil: str | None, concepts: str, clamp: str, rows: int, length: int, n_steps: int, tolerance: float,
         out: str | None, report: bool, tracking_uri: str | None) -> int:
    """Explain what MODEL learned.

    \b
    zoo-explain model=models:/tinyshakespeare-generation@champion
    zoo-explain model=models:/sst2-sentiment/1 split=validation limit=200 report=true
    zoo-explain model=models:/sst2-sentiment@champion data=mr report=true
    zoo-explain model=models:/sst2-sentiment@champion text="a gripping, moving film"
    zoo-explain model=models:/trec-classification@champion text="How far is Mars ?" text="Who wrote Hamlet ?" \\
        html=explain/questions.html
    zoo-explain model=models:/tinyshakespeare-generation@champion text="ROMEO:\nWhat" target=" " foil="e"
    zoo-explain model=models:/tinyshakespeare-generation@champion text="ROMEO:\nWhat" traces=romeo.npz
    """
    chosen = [find_concept(name.strip()) for name in concepts.split(",") if name.strip()]
    for option, given, what in (("html", html, "the page"), ("traces", traces, "the steps")):
        if given and not text:
            raise click.UsageError(f"{option}= writes {what} of the text= explained; give text=\"...\" (one or more)")
    if data is not None and text:
        raise click.UsageError("data= names the dataset a report reads; text= explains the texts given: use one")
    from zoo.explain.report import check_recurrent
    from zoo.explain.run import explain, explain_texts  # after the options are checked: a bad one answers at once
    from zoo.explain.source import load_subject

    subject = load_subject(model, tracking_uri, data)
    if text:
        if traces:
            check_recurrent(subject)  # before anything is computed or printed
        print(explain_texts(subject, list(text), n_steps, color=sys.stdout.isatty(), target=target, foil=foil,
                            page=Path(html) if html else None, tolerance=tolerance or None))
        if traces:
            from zoo.explain.traces import write_traces

            print(write_traces(subject, list(text), Path(traces)))
        return 0
    folder = Path(out or f"explain/{subject.run_id}" + (f"/on_{data}" if data else ""))
    print(explain(subject, folder, split=split, limit=limit, gates=gates, cells=cells, attributions=attributions,
                  concepts=chosen, rows=rows, length=length, n_steps=n_steps, report=report,
                  tolerance=tolerance or None, clamp=clamp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
