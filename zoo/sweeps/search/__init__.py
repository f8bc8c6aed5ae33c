"""A search: an Optuna study over a recipe's hyperparameters (`zoo-sweep`, `sweeps/*.yaml`),
its report, confirmation of the winner over seeds, and its hand-over to the zoo."""
