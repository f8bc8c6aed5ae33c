"""A bidirectional `nn.LSTM` or `nn.GRU` over a padded batch, exactly, for a CPU.

On a CPU PyTorch runs a packed batch through a per-step path and a padded one through
oneDNN's fused kernel (faster in fp32, and bf16 autocast speeds it up where the packed path
barely moves). A padded batch is wrong for the backward direction only: it would start at
the padding. So each layer runs each direction on its own, with the module's own weights
(`torch.lstm` / `torch.gru`, the functions `nn.LSTM` calls): the forward direction over the
padded rows as they are, the backward one over each row reversed within its length (padding
stays at the end), its outputs reversed back. Each row's outputs are then exact up to its end.
Dropout between layers is applied as `nn.LSTM` applies it, to every layer's output but the last."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from zoo.models.pooling import real_steps

WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def reversal(lengths: Tensor, time: int) -> Tensor:
    """(batch, time) index that reverses each row within its length and leaves padding in place;
    it is its own inverse."""
    steps = torch.arange(time, device=lengths.device)[None, :]
    lengths = lengths[:, None]
    return torch.where(steps < lengths, lengths - 1 - steps, steps)


def _direction(rnn: nn.RNNBase, inputs: Tensor, layer: int, reverse: bool) -> Tensor:
    suffix = f"_l{layer}{'_reverse' if reverse else ''}"
    weights = [getattr(rnn, f"{name}{suffix}") for name in (WEIGHTS if rnn.bias else WEIGHTS[:2])]
    zeros = inputs.new_zeros(1, inputs.shape[0], rnn.hidden_size)  # shape, not len(): a symbolic size in export
    if isinstance(rnn, nn.LSTM):
        return torch.lstm(inputs, (zeros, zeros), weights, rnn.bias, 1, 0.0, rnn.training, False, True)[0]
    return torch.gru(inputs, zeros, weights, rnn.bias, 1, 0.0, rnn.training, False, True)[0]


def padded_bidirectional(rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """Outputs (batch, time, 2 * hidden), zero past each row's end, and the top layer's final
    hidden states (2, batch, hidden): forward at each row's last step, backward at its first."""
    lengths = lengths.to(x.device)
    order = reversal(lengths, x.shape[1])[..., None]
    mask = real_steps(x, lengths)
    layer_input = x
    for layer in range(rnn.num_layers):
        forward = _direction(rnn, layer_input, layer, reverse=False)
        flipped = layer_input.gather(1, order.expand(-1, -1, layer_input.shape[-1]))
        backward = _direction(rnn, flipped, layer, reverse=True)
        backward = backward.gather(1, order.expand(-1, -1, backward.shape[-1]))
        layer_input = torch.cat([forward, backward], dim=-1) * mask.to(forward.dtype)
        if layer < rnn.num_layers - 1 and rnn.dropout > 0:
            layer_input = functional.dropout(layer_input, rnn.dropout, rnn.training)
    rows = torch.arange(x.shape[0], device=x.device)
    hidden = rnn.hidden_size
    last = layer_input[rows, (lengths - 1).clamp(min=0), :hidden]
    first = layer_input[:, 0, hidden:]
    return layer_input, torch.stack([last, first])
