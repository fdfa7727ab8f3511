"""The training loop shared by `Primitive.fit` and `Pipeline.fit`.

Assumes: `objective(step)` accumulates the gradient of the loss it returns into the `.grad`
of the tensors given (leaf tensors that the optimizer owns).
Guarantees:
  * the optimizer is a torch.optim class (Adam by default) built on those tensors; no
    hand-written update rule;
  * with `group` (a torch.distributed process group, or True for the default one) the
    gradients and the loss are summed over the processes before each step with one
    all-reduce, so every process takes the same step;
  * a tqdm progress bar shows the loss when `progress` is true; the history is a list of
    dicts `{"step": i, "loss": value, **callback(i)}`.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np
import torch

__all__ = ["minimise", "batches", "process_group"]


def batches(n: int, batch_size: Optional[int], seed: int) -> Iterator[np.ndarray]:
    """Row indices of each step: every row when batch_size is None, else shuffled epochs."""
    if batch_size is None or batch_size >= n:
        while True:
            yield np.arange(n)
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start:start + batch_size]


def process_group(distributed: Any) -> Optional[Any]:
    """The process group to all-reduce over, or None for a single process."""
    if distributed is None or distributed is False:
        return None
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        if distributed is True:
            raise RuntimeError("adjoin.pipeline: distributed=True needs torch.distributed "
                               "initialised (run under torchrun, or call "
                               "torch.distributed.init_process_group first)")
        return None
    return dist.group.WORLD if distributed is True else distributed


def _all_reduce(tensors: List[torch.Tensor], loss: float, group: Any) -> float:
    import torch.distributed as dist
    grads = [t.grad if t.grad is not None else torch.zeros_like(t) for t in tensors]
    # NCCL reduces CUDA tensors only; gloo reduces CPU tensors
    device = tensors[0].device if tensors and dist.get_backend(group) == "nccl" \
        else torch.device("cpu")
    flat = torch.cat([g.reshape(-1).to(torch.float64).to(device) for g in grads]
                     + [torch.tensor([loss], dtype=torch.float64, device=device)])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
    start = 0
    for t, g in zip(tensors, grads):
        size = g.numel()
        t.grad = flat[start:start + size].reshape(t.shape).to(t.dtype).to(t.device)
        start += size
    return float(flat[-1])


def minimise(objective: Callable[[int], float], tensors: List[torch.Tensor], *, steps: int,
             lr: float = 1e-2, optimizer: Optional[Callable] = None, progress: bool = False,
             desc: str = "fit", callback: Optional[Callable[[int], Dict[str, float]]] = None,
             callback_every: int = 1, group: Any = None, first_step: int = 0) -> List[dict]:
    """Run `steps` optimizer steps on `objective`; returns the history."""
    opt = (optimizer or torch.optim.Adam)(tensors, lr=lr) if tensors else None
    history: List[dict] = []
    bar = _progress(steps, desc, progress and _rank(group) == 0)
    for step in range(steps):
        for t in tensors:
            t.grad = None
        loss = float(objective(step))
        if group is not None:
            loss = _all_reduce(tensors, loss, group)
        if opt is not None:
            opt.step()
        record = {"step": first_step + step, "loss": loss}
        if callback is not None and (step % callback_every == 0 or step == steps - 1):
            record.update(callback(first_step + step) or {})
        history.append(record)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
    if bar is not None:
        bar.close()
    return history


def _rank(group: Any) -> int:
    if group is None:
        return 0
    import torch.distributed as dist
    return dist.get_rank(group)


def _progress(steps: int, desc: str, show: bool):
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is a convenience; training does not need it
        return None
    return tqdm(total=steps, desc=desc, leave=False)
