"""`python -m zoo.reproduce model=models:/<name>/<version>` (`make reproduce MODEL=...`).

Re-trains a registered model from its logged config and seed on the same data (refusing if
a data file changed) and reports the difference in its test metric."""

from __future__ import annotations

import sys

import zoo.config  # noqa: F401 - registers the ${zoo_root:} resolver
from zoo.cli import friendly_errors, key_values
from zoo.registry.loading import default_tracking_uri
from zoo.registry.reproduction import reproduce

OPTIONS = {"model": "models:/<name>/<version> or models:/<name>@<alias>", "tracking_uri": "MLflow store"}


@friendly_errors
def main(argv: list[str] | None = None) -> int:
    args = key_values(list(sys.argv[1:] if argv is None else argv), OPTIONS, required=("model",))
    outcome = reproduce(args["model"], args.get("tracking_uri") or default_tracking_uri())
    print(f"{outcome.model}: {outcome.metric} registered {outcome.original:.4f}, reproduced "
          f"{outcome.reproduced:.4f}, difference {outcome.difference:+.4f} (new run {outcome.run_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
