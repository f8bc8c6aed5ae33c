"""lstm-zoo: experiment-tracked hyperparameter search and model zoo for LSTM text models."""

__version__ = "0.1.0"
