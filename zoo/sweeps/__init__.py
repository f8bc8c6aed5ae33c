"""Studies over the training pipeline, on one orchestration (`orchestration/`): searches
(`search/`), benchmarks over seeds and folds (`benchmark/`), the variant study
(`variants/`) and the model comparison (`compare/`)."""
