"""nn.Modules of the zoo: LSTM variants, pooling, classifier and language-model networks."""

from zoo.models.encoder import LSTMEncoder
from zoo.models.networks import LanguageModelNetwork, SequenceClassifier
from zoo.models.seed_lstm import SeedLSTM
from zoo.models.spec import LSTMSpec

__all__ = ["LSTMEncoder", "LSTMSpec", "LanguageModelNetwork", "SeedLSTM", "SequenceClassifier"]
