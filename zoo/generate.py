"""`zoo-generate model=models:/tinyshakespeare-generation@champion prompt="ROMEO:"` (or
`python -m zoo.generate`): continue a prompt with a registered language model."""

from __future__ import annotations

import math
import sys

import click
import pandas as pd

from zoo.cli import MODEL_URI, ZooCommand
from zoo.errors import ZooError
from zoo.registry.loading import generates, load_registered
from zoo.registry.pyfunc import GENERATION_PARAMS


def finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """FloatRange lets nan and inf through (nan < 0 is false)."""
    if not math.isfinite(value):
        raise click.BadParameter(f"temperature={value} is not a finite number; use a number >= 0, "
                                 "e.g. temperature=0.8 (0 is greedy)", ctx, param)
    return value


@click.command("zoo-generate", cls=ZooCommand)
@click.option("--model", required=True, metavar=MODEL_URI, help="Registered language model to load.")
@click.option("--prompt", required=True, help="Text to continue.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=GENERATION_PARAMS["max_new_tokens"],
              help="Tokens to generate.")
@click.option("--temperature", type=click.FloatRange(min=0), default=GENERATION_PARAMS["temperature"],
              callback=finite, help="Sampling temperature; 0 is greedy.")
@click.option("--top-k", type=click.IntRange(min=0), default=GENERATION_PARAMS["top_k"],
              help="Sample from the k likeliest tokens; 0 = all.")
@click.option("--seed", type=int, default=GENERATION_PARAMS["seed"], help="Sampling seed.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, prompt: str, tracking_uri: str | None, **params: int | float) -> int:
    """Continue PROMPT with a registered language model and print the text.

    \b
    zoo-generate model=models:/tinyshakespeare-generation@champion prompt="ROMEO:" temperature=0.8 top_k=10
    """
    loaded = load_registered(model, tracking_uri)
    if not generates(loaded):  # only language models take generation params
        raise ZooError(f"{model} is a classifier, not a language model; use zoo-predict model={model} text=...")
    frame = loaded.predict(pd.DataFrame({"text": [prompt]}), params=params)
    print(prompt + frame["generated"][0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
