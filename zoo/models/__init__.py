"""nn.Modules of the zoo: encoders (recurrent cores and baselines), pooling, classifier and
language-model networks."""

from zoo.models.encoder import LSTMEncoder, RecurrentEncoder
from zoo.models.networks import LanguageModelNetwork, SequenceClassifier
from zoo.models.seed_lstm import SeedLSTM
from zoo.models.spec import EncoderSpec, LSTMSpec

__all__ = ["EncoderSpec", "LSTMEncoder", "LSTMSpec", "LanguageModelNetwork", "RecurrentEncoder", "SeedLSTM",
           "SequenceClassifier"]
