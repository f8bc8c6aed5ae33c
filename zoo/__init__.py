"""lstm-zoo: experiment-tracked hyperparameter search and model zoo for LSTM text models.

Importing the package registers the OmegaConf resolvers the configs in conf/ use, so every
entry point (and a served model) composes them alike; it costs OmegaConf only, not Hydra."""

from zoo.config import register_resolvers

__version__ = "0.2.0"

register_resolvers()
