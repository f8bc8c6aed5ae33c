"""Whether a hand-written LSTM equals torch.nn.LSTM given the same weights: outputs, states
and the gradients of one loss (tests/test_handwritten_lstm.py, tests/test_gated_lstm.py)."""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TOL = 1e-5


def assert_equals_torch_lstm(reference: torch.nn.LSTM, seed: torch.nn.Module, depth: int) -> None:
    """`seed` (input 6, hidden 8, holding `reference`'s weights) gives its outputs, states and
    gradients; tests/test_gated_lstm.py asks the same of the gated cell."""
    x = torch.randn(4, 7, 6)
    state = (torch.randn(depth, 4, 8), torch.randn(depth, 4, 8))
    x_ref, x_seed = x.clone().requires_grad_(), x.clone().requires_grad_()
    _assert_same_outputs_and_gradients(reference, seed, (x_ref, reference(x_ref, state)),
                                       (x_seed, seed(x_seed, state)))


def assert_lengths_match_packed(reference: torch.nn.LSTM, seed: torch.nn.Module) -> None:
    """With `lengths`, `seed` gives what `reference` gives on a PackedSequence: outputs,
    states and gradients (the packed loop's own backward: split steps, deferred weight grads)."""
    x = torch.randn(3, 5, 6)
    lengths = torch.tensor([5, 2, 3])
    x_ref, x_seed = x.clone().requires_grad_(), x.clone().requires_grad_()
    packed = pack_padded_sequence(x_ref, lengths, batch_first=True, enforce_sorted=False)
    out_packed, state_ref = reference(packed)
    out_ref, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=5)
    _assert_same_outputs_and_gradients(reference, seed, (x_ref, (out_ref, state_ref)),
                                       (x_seed, seed(x_seed, lengths=lengths)))


Ran = tuple[torch.Tensor, tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]]  # input, (out, (h, c))


def _assert_same_outputs_and_gradients(reference: torch.nn.Module, seed: torch.nn.Module, ref: Ran,
                                       ours: Ran) -> None:
    """Outputs, final (h, c), and the gradients of the input and of every parameter of one loss."""
    (x_ref, (out_ref, (h_ref, c_ref))), (x_seed, (out_seed, (h_seed, c_seed))) = ref, ours
    torch.testing.assert_close(out_seed, out_ref, atol=TOL, rtol=0)
    torch.testing.assert_close(h_seed, h_ref, atol=TOL, rtol=0)
    torch.testing.assert_close(c_seed, c_ref, atol=TOL, rtol=0)

    reference.zero_grad(), seed.zero_grad()
    target = torch.randn_like(out_ref)
    ((out_ref * target).sum() + h_ref.sum() + c_ref.pow(2).sum()).backward()
    ((out_seed * target).sum() + h_seed.sum() + c_seed.pow(2).sum()).backward()
    torch.testing.assert_close(x_seed.grad, x_ref.grad, atol=TOL, rtol=0)
    ref_params = dict(reference.named_parameters())
    for name, param in seed.named_parameters():
        torch.testing.assert_close(param.grad, ref_params[name].grad, atol=TOL, rtol=0, msg=name)
