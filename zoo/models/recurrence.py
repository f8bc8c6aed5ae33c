"""Running one hand-written recurrent layer over time the way `nn.LSTM` runs on a
`PackedSequence`: rows sorted by length, and step t computed only for the rows still
running (the packed batch size at t), so padding costs no step and no masking op.

Why: a Python loop pays a fixed cost per op per step. Freezing finished rows with
`torch.where` (three extra ops per step) and computing every padded step made the
hand-written cores about 0.55x `nn.LSTM` on this CPU; shrinking the batch as rows end
removes both. The packing itself is `torch.nn.utils.rnn`'s.

Two more things keep the backward pass linear in the sequence and short per step:
- the steps' inputs are `split` off the packed data once (a slice per step would make its
  backward fill a zero tensor the size of the whole sequence at every step);
- the recurrent matrices (`recurrent=`: U in U h_{t-1}, and any other state-times-matrix
  term) enter each step detached, and their gradients are computed once, as one matmul
  over every step's inputs and pre-activation gradients (`DeferredWeightGrads`), as cuDNN
  does, instead of a small matmul and an accumulation per step. The gradients are the same
  sums, added in another order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

Carried = tuple[Tensor, ...]  # one layer's state, each (batch, width); carried[0] is the output h
Step = Callable[[Tensor, Carried], Carried]  # (pre-activations of step t, state) -> new state
Recurrent = tuple[int, Tensor]  # (index k into the state, matrix W (width_k, features)): adds carried[k] @ W


def pre_activation(projected: Tensor, carried: Carried, recurrent: Sequence[Recurrent]) -> Tensor:
    """`projected` + carried[k] @ W for every (k, W) in `recurrent`, one addmm each."""
    for index, weight in recurrent:
        projected = torch.addmm(projected, carried[index], weight)
    return projected


class DeferredWeightGrads(torch.autograd.Function):
    """Identity on the projected inputs of all steps; its backward gives each recurrent
    matrix W its gradient, sum over steps of carried_k(t)ᵀ · dz(t), as one matmul.

    The steps multiply by W detached and append the state they multiplied to `records`
    (one list per matrix, in step order). The gradient reaching the projected inputs is
    dz(t) itself (z(t) = projected(t) + ...), row for row, so nothing else is needed, and
    the engine runs this backward only after every step's."""

    @staticmethod
    def forward(ctx: Any, data: Tensor, records: list[list[Tensor]], *weights: Tensor) -> Tensor:
        ctx.records = records
        return data.view_as(data)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        rows = grad if grad.dim() == 2 else grad.transpose(0, 1).reshape(-1, grad.shape[-1])  # step order
        # under bf16 autocast the projected inputs (and so `grad`) are bf16, the carried state fp32:
        # each weight's gradient is taken in the state's precision, as autocast's own matmul would keep it
        return (grad, None, *(torch.cat(inputs).t().mm(rows.to(inputs[0].dtype)) for inputs in ctx.records))


def widened(z: Tensor) -> Tensor:
    """`z` in fp32 if autocast made it bf16 or fp16; fp32 and fp64 as they are."""
    return z.float() if z.dtype in (torch.bfloat16, torch.float16) else z


def unroll(step: Step, projected: Tensor, carried: Carried, lengths: Tensor | None = None,
           recurrent: Sequence[Recurrent] = ()) -> tuple[Tensor, Carried]:
    """Apply `step` along time. `projected` is (batch, time, features), already multiplied
    by the input weights; `carried` the initial state. Step t gets
    `pre_activation(projected[:, t], carried, recurrent)` and the state.

    Returns the outputs (batch, time, width), zero past each row's length as
    `pad_packed_sequence` gives, and the state after each row's last real step."""
    packed = None
    if lengths is not None:
        packed = pack_padded_sequence(projected, lengths.cpu(), batch_first=True, enforce_sorted=False)
        carried = tuple(part.index_select(0, packed.sorted_indices) for part in carried)
    data = projected if packed is None else packed.data
    deferred = torch.is_grad_enabled() and any(weight.requires_grad for _, weight in recurrent)
    records: list[list[Tensor]] = [[] for _ in recurrent] if deferred else []  # no gradient, nothing kept
    if deferred:
        data = DeferredWeightGrads.apply(data, records, *(weight for _, weight in recurrent))
    detached = [(index, weight.detach()) for index, weight in recurrent]
    pieces = data.unbind(1) if packed is None else data.split(packed.batch_sizes.tolist())
    outputs, finished = [], []
    for step_input in pieces:
        running = step_input.shape[0]
        if running < carried[0].shape[0]:  # the longest rows come first: the tail has ended
            finished.append(tuple(part[running:] for part in carried))
            carried = tuple(part[:running] for part in carried)
        for inputs, (index, _) in zip(records, detached, strict=False):
            inputs.append(carried[index].detach())
        # the step's gates and cell in fp32 even under bf16 autocast (its matmuls stay bf16): a cell
        # carried in bf16 loses the small updates it adds up over a long sequence
        carried = step(widened(pre_activation(step_input, carried, detached)), carried)
        outputs.append(carried[0])
    if packed is None:
        return torch.stack(outputs, dim=1), carried
    final = tuple(torch.cat([part, *(rows[k] for rows in reversed(finished))]).index_select(
        0, packed.unsorted_indices) for k, part in enumerate(carried))
    out = PackedSequence(torch.cat(outputs), packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    padded, _ = pad_packed_sequence(out, batch_first=True, total_length=projected.shape[1])
    return padded, final
