"""A classifier's answer for a sentence must not change when the sentence is padded in a batch."""

from __future__ import annotations

import torch

from zoo.models import EncoderSpec, SequenceClassifier


def padding_changes_nothing(variant: str, bidirectional: bool, pooling: str) -> None:
    torch.manual_seed(0)
    spec = EncoderSpec(encoder=variant, num_layers=2, hidden_size=8, embedding_dim=6, bidirectional=bidirectional)
    net = SequenceClassifier(spec, vocab_size=20, num_classes=3, pad_id=0, pooling=pooling).eval()
    alone = net(torch.tensor([[5, 6, 7]]), torch.tensor([3]))
    together = net(torch.tensor([[5, 6, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6]]), torch.tensor([3, 6]))
    torch.testing.assert_close(together[0], alone[0], atol=1e-6, rtol=0)
