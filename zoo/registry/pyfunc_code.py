"""MLflow "model from code" entry: MLflow copies and runs this file to build the model,
so no Python object is pickled into the registry."""

import mlflow

from zoo.registry.pyfunc import ZooTextModel

mlflow.models.set_model(ZooTextModel())
