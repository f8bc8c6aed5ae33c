"""`python -m zoo.promote model=<name> version=<n|alias>` (`make promote`): make a version the
champion if it beats the current champion on the test metric; says what it compared."""

from __future__ import annotations

import sys

import zoo.config  # noqa: F401 - registers the ${zoo_root:} resolver
from zoo.cli import friendly_errors, key_values
from zoo.registry.loading import default_tracking_uri
from zoo.registry.versions import promote

OPTIONS = {"model": "registered model name, e.g. sst2-sentiment", "version": "version number or alias",
           "tracking_uri": "MLflow store, default as zoo.train"}


@friendly_errors
def main(argv: list[str] | None = None) -> int:
    args = key_values(list(sys.argv[1:] if argv is None else argv), OPTIONS, required=("model", "version"))
    print(promote(args["model"], args["version"], args.get("tracking_uri") or default_tracking_uri()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
