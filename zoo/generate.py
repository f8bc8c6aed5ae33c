"""`python -m zoo.generate model=models:/tinyshakespeare-generation@champion prompt="ROMEO:"`

Options: max_new_tokens (200), temperature (1.0; 0 is greedy), top_k (0 = all), seed (0)."""

from __future__ import annotations

import sys

import pandas as pd

import zoo.config  # noqa: F401 - registers the ${zoo_root:} resolver
from zoo.cli import friendly_errors, key_values
from zoo.errors import ZooError
from zoo.registry.loading import load_registered
from zoo.registry.pyfunc import GENERATION_PARAMS

OPTIONS = {"model": "models:/<name>@<alias> or models:/<name>/<version>", "prompt": "text to continue",
           "max_new_tokens": "int", "temperature": "float", "top_k": "int, 0 = no cut-off", "seed": "int",
           "tracking_uri": "MLflow store"}


@friendly_errors
def main(argv: list[str] | None = None) -> int:
    args = key_values(list(sys.argv[1:] if argv is None else argv), OPTIONS, required=("model", "prompt"))
    try:
        params = {k: type(v)(args[k]) if k in args else v for k, v in GENERATION_PARAMS.items()}
    except ValueError as err:
        raise ZooError(f"bad generation option: {err}") from None
    model = load_registered(args["model"], args.get("tracking_uri"))
    if model.metadata.get_params_schema() is None:  # only language models take generation params
        raise ZooError(f"{args['model']} is a classifier, not a language model; use python -m zoo.predict "
                       f"model={args['model']} text=...")
    frame = model.predict(pd.DataFrame({"text": [args["prompt"]]}), params=params)
    print(args["prompt"] + frame["generated"][0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
