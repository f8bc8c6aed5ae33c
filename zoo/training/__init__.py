"""The training pipeline shared by `zoo.train` and sweeps."""
