"""Greff et al.'s LSTM ablations (`zoo.models.gated_lstm`, where the equations are), one
registered core per variant: each name fixes its switches, so a YAML says only
`encoder: <name>` and a registered bundle rebuilds the cell from name + sizes. All are
unidirectional and take `lengths` themselves, as `gates` does.

    peephole  vanilla LSTM with peepholes (Greff's V); every other variant is V minus one part
    nig nfg nog   no input / forget / output gate (fixed to 1)
    niaf noaf     no input activation (linear candidate) / no output activation (h = o * c)
    np            no peepholes: torch.nn.LSTM's function
    cifg          coupled input and forget gate, i = 1 - f
    fgr           full gate recurrence: gates see all gates of the previous step
"""

from __future__ import annotations

from functools import partial

from torch import nn

from zoo.models.cores import Core, Sizes, register
from zoo.models.gated_lstm import GatedLSTM, Switches


def build(switches: Switches, sizes: Sizes) -> nn.Module:
    return GatedLSTM(sizes.input_size, sizes.hidden_size, sizes.num_layers, sizes.dropout, switches)


def gated(name: str, switches: Switches) -> Core:
    """Register the gated cell with `switches` under `name`."""
    return register(Core(name=name, build=partial(build, switches), packed=False, bidirectional=False,
                         bidirectional_instead="model=bilstm for a bidirectional LSTM"))


PEEPHOLE = gated("peephole", Switches())
NIG = gated("nig", Switches(input_gate=False))
NFG = gated("nfg", Switches(forget_gate=False))
NOG = gated("nog", Switches(output_gate=False))
NIAF = gated("niaf", Switches(input_activation=False))
NOAF = gated("noaf", Switches(output_activation=False))
NP = gated("np", Switches(peepholes=False))
CIFG = gated("cifg", Switches(coupled=True))
FGR = gated("fgr", Switches(full_recurrence=True))
