"""The one orchestration every study runs on (searches, seed and fold benchmarks,
confirmation, the variant study, the model comparison): the shared Optuna storage, a parent
run per study, a child run per trial, the work loop, and the launcher that starts workers."""
