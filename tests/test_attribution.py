"""Integrated gradients to a tolerance: a text whose convergence delta is too wide is integrated
again with twice the steps, so the attributions add up to the logit difference they explain."""

from __future__ import annotations

import torch
from helpers.toy_classifier import toy_bundle

from zoo.registry.bundle import build_network, load_bundle
from zoo.tasks.attribution import attribute, integrated_gradients


def _network(tmp_path):
    bundle = load_bundle(toy_bundle(tmp_path / "toy.pt", model={"encoder": "lstm", "num_layers": 2,
                                                                 "hidden_size": 16, "embedding_dim": 8}))
    network, _ = build_network(bundle)
    with torch.no_grad():  # sharper weights than the random init: a path integral that two steps get wrong
        for parameter in network.parameters():
            parameter.mul_(4)
    return network.eval()


def test_a_wide_delta_doubles_the_steps_of_that_text_only(tmp_path) -> None:
    network = _network(tmp_path)
    tokens = torch.tensor([[2, 3, 4, 5, 6], [7, 8, 0, 0, 0], [9, 10, 11, 12, 0]])
    lengths = torch.tensor([5, 2, 4])
    target = torch.tensor([0, 1, 2])
    rough, rough_delta, rough_steps = integrated_gradients(network, tokens, lengths, 0, target, n_steps=2)
    assert rough_steps.tolist() == [2, 2, 2] and rough_delta.abs().max() > 1e-3
    scores, delta, steps = integrated_gradients(network, tokens, lengths, 0, target, n_steps=2, tolerance=1e-3)
    assert (delta.abs() <= 1e-3).all() and (steps > 2).any()
    assert set(steps.tolist()) <= {2, 4, 8, 16, 32, 64, 128, 256, 512}
    logits = network(tokens, lengths).gather(1, target[:, None])[:, 0]
    baseline = network(torch.zeros_like(tokens), lengths).gather(1, target[:, None])[:, 0]
    assert torch.allclose(scores.sum(-1), (logits - baseline).detach(), atol=1e-3)  # completeness


def test_the_steps_stop_at_the_cap_and_the_delta_is_reported_as_it_is(tmp_path) -> None:
    network = _network(tmp_path)
    tokens, lengths = torch.tensor([[2, 3, 4, 5, 6]]), torch.tensor([5])
    _, delta, steps = integrated_gradients(network, tokens, lengths, 0, torch.tensor([0]), n_steps=2,
                                           tolerance=1e-12, max_steps=8)
    assert steps.tolist() == [8] and delta.abs().item() > 0
    explained = attribute(network, tokens, lengths, 0, n_steps=4, tolerance=1e-3)
    assert explained.steps.shape == (1,) and abs(explained.delta.item()) <= 1e-3
