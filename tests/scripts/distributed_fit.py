"""Train a small three-framework pipeline with Pipeline.fit and save the parameters.

Run alone (one process) or under torchrun (data-parallel over gloo):
    python tests/scripts/distributed_fit.py OUT.npz
    python -m torch.distributed.run --standalone --nproc_per_node=2 \
        tests/scripts/distributed_fit.py OUT.npz
"""
import os
import sys

import numpy as np
import torch

from adjoin import pipeline as pl


def head(p, z):
    return z @ p["w"] + p["b"]


def gauss_ll(p, z, y):
    r = y - head(p, z)
    return -0.5 * r * r * np.exp(-p["log_s2"]) - 0.5 * p["log_s2"]


def prior(p):
    return -0.5 * np.sum(p["w"] ** 2)


def main(out: str) -> None:
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        torch.distributed.init_process_group("gloo")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5))
    y = np.sin(x @ rng.normal(size=5))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 6, dtype=torch.float64), torch.nn.Tanh())
    local = pl.Function(head, {"w": np.full(6, 0.1), "b": 0.0, "log_s2": 0.0},
                        log_likelihood=gauss_ll, log_prior=prior, backend="llvm")
    pipe = pl.Pipeline([("net", pl.TorchModule(net)), ("head", local)])
    local.set_training_data(rng.normal(size=(16, 6)), rng.normal(size=16))  # a local term
    pipe.fit(x, y, steps=25, batch_size=32, lr=0.05, progress=False, distributed=distributed)
    if not distributed or torch.distributed.get_rank() == 0:
        flat = {f"{s}.{k}": np.asarray(v) for s, params in pipe.parameters.items()
                for k, v in params.items()}
        flat["losses"] = np.array([h["loss"] for h in pipe.history])
        np.savez(out, **flat)
    if distributed:  # every rank leaves together: one exiting mid-teardown can abort gloo
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
