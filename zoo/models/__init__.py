"""nn.Modules of the zoo: encoders (recurrent cores and baselines), pooling, classifier and
language-model networks."""

from zoo.models.encoder import RecurrentEncoder
from zoo.models.handwritten_lstm import HandwrittenLSTM
from zoo.models.networks import LanguageModelNetwork, SequenceClassifier
from zoo.models.spec import EncoderSpec

__all__ = ["EncoderSpec", "HandwrittenLSTM", "LanguageModelNetwork", "RecurrentEncoder", "SequenceClassifier"]
