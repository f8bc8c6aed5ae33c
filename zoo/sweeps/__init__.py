"""Optuna sweeps over the training pipeline: specs, search spaces, studies, reports."""
