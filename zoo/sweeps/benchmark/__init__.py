"""Benchmarks: recipes repeated over seeds and cross-validation folds (`zoo-benchmark`), with their statistics."""
