"""`zoo-study sweeps=variants_trec,variants_sst2 [out=docs/variants.md] [reference=peephole]`
(or `python -m zoo.study`; `make study` runs the sweeps first).

Reports variant studies: sweeps whose search space makes `model` a categorical over cores
(Greff et al. 2017, "LSTM: A Search Space Odyssey"). For each sweep it reads the study the
sweep left in its Optuna storage (the spec's `storage`, else ZOO_OPTUNA_STORAGE, else
optuna.db, as zoo-sweep does), never creating or changing one, and writes a section of
`docs/variants.md` and a box plot `docs/variants_<name>.png` (zoo/sweeps/variants/analysis.py says
which statistics and why). Every study is checked before anything is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from zoo.cli import ZooCommand
from zoo.errors import ConfigError
from zoo.paths import PROJECT_ROOT
from zoo.sweeps.orchestration.storage import open_storage, storage_url
from zoo.sweeps.search.spec import SweepSpec, load_sweep_config, parse_sweep_spec
from zoo.sweeps.search.studies import existing_study
from zoo.sweeps.variants.analysis import REFERENCE, core_choices
from zoo.sweeps.variants.render import write_report
from zoo.sweeps.variants.report import VariantReport, analyse

DEFAULT_OUT = PROJECT_ROOT / "docs" / "variants.md"


def _advice(spec: SweepSpec) -> str:
    return f"run `make study` (or `make sweep SWEEP={spec.name}`) first"


def _read(spec: SweepSpec, storage: str | None, reference: str) -> VariantReport:
    """Open the sweep's storage and study without creating either, and analyse it."""
    url = storage_url(storage or spec.storage)
    try:
        database = make_url(url).database if url.startswith("sqlite") else None
    except Exception:  # noqa: BLE001 - a malformed URL: open_storage names it
        database = None
    if database and database != ":memory:" and not Path(database).is_file():
        raise ConfigError(f"no Optuna storage at {database} (sweep {spec.name}); {_advice(spec)}")
    study = existing_study(spec, open_storage(url), url, _advice(spec))
    return analyse(study, spec, reference=reference)


@click.command("zoo-study", cls=ZooCommand)
@click.option("--sweeps", required=True, metavar="NAME[,NAME...]",
              help="Variant-study sweeps in sweeps/, comma-separated (their studies must have run).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_OUT,
              show_default="docs/variants.md",
              help="Markdown to write (one section per study, others kept); plots go beside it.")
@click.option("--reference", default=REFERENCE, metavar="CORE",
              help="Core every other core is tested against (Greff et al.'s vanilla LSTM).")
@click.option("--storage", metavar="URL", help="Optuna storage (default: the spec's, ZOO_OPTUNA_STORAGE or optuna.db).")
def main(sweeps: str, out: Path, reference: str, storage: str | None) -> int:
    """Report variant studies: per-core statistics, Welch's tests against the reference core,
    hyperparameter importances and a comparison with Greff et al. 2017, into OUT.

    \b
    zoo-study sweeps=variants_trec,variants_sst2
    zoo-study sweeps=variants_trec out=/tmp/variants.md
    """
    names = [n.strip() for n in sweeps.split(",") if n.strip()]
    if not names:
        raise ConfigError("sweeps= names no sweep; e.g. sweeps=variants_trec,variants_sst2")
    specs = [parse_sweep_spec(name, load_sweep_config(name, {})) for name in dict.fromkeys(names)]
    for spec in specs:  # a spec that compares no cores fails before any storage is opened
        core_choices(spec)
    reports = [_read(spec, storage, reference) for spec in specs]
    written = write_report(reports, out)
    for report in reports:
        c = report.counts
        print(f"{report.spec.name}: {c.get('COMPLETE', 0)} complete trials over {len(report.cores)} cores; "
              f"best median {report.cores[0].core} {report.cores[0].median:.4f} ({report.metric})")
    print(f"wrote {written.markdown} and {', '.join(str(p) for p in written.plots)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
