"""What both recogniser trainings share: a wall-clock budget with its learning-rate schedule, and the CTC loss.

The budget is wall-clock, not a step count, because the 2-core machine's speed varies with its load: the schedule
(linear warm-up, then cosine decay to 0 at the end of the budget) follows elapsed time so every run ends cooled.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

B = TypeVar("B")


@dataclass(frozen=True)
class Step:
    done: int  # steps trained before this one
    elapsed_s: float
    lr: float
    checkpoint_due: bool  # `checkpoint_every_min` has passed since the last one (checkpoint after this step)


def timed_steps(batches: Iterable[B], optimiser: Any, *, minutes: float, base_lr: float, warmup_steps: int,
                checkpoint_every_min: float) -> Iterator[tuple[Step, B]]:
    """Each batch with its step, until `minutes` have passed; sets the optimiser's learning rate for the step."""
    budget = minutes * 60
    start = time.monotonic()
    next_checkpoint = start + checkpoint_every_min * 60
    for done, batch in enumerate(batches):
        now = time.monotonic()
        elapsed = now - start
        if elapsed >= budget:
            return
        lr = float(base_lr * min(1.0, (done + 1) / warmup_steps) * 0.5 * (1 + np.cos(np.pi * elapsed / budget)))
        for group in optimiser.param_groups:
            group["lr"] = lr
        due = now >= next_checkpoint
        if due:
            next_checkpoint += checkpoint_every_min * 60
        yield Step(done, elapsed, lr, due), batch


def ctc_loss(ctc: Any, log_probs: Any, texts: list[str], index: dict[str, int]) -> Any:
    """CTC loss of (N, T, classes) log-probabilities against each line's text (`index`: character → class)."""
    import torch

    targets = torch.tensor([index[ch] for text in texts for ch in text], dtype=torch.long)
    return ctc(log_probs.permute(1, 0, 2), targets,
               torch.full((len(texts),), log_probs.shape[1], dtype=torch.long),
               torch.tensor([len(text) for text in texts], dtype=torch.long))
