"""A physics simulation, written as plain NumPy loops and compiled by adjoin, used as a layer
of a PyTorch model and trained with torch.optim.

The model predicts where a chain of springs ends up: a learnable stiffness feeds the
simulation (adjoin, on the torch backend), a torch linear layer reads its final state.
Run: python examples/torch_layer.py
"""
import numpy as np
import torch

import adjoin.torch


def springs(x, stiffness, steps):
    """Explicit Euler steps of masses on a line joined by springs (damped)."""
    v = np.zeros_like(x)
    for _ in range(steps):
        force = np.zeros_like(x)
        for i in range(1, x.shape[0] - 1):
            force[i] = stiffness * (x[i - 1] - 2.0 * x[i] + x[i + 1])
        v = 0.9 * v + 0.1 * force
        x = x + 0.1 * v
    return x


class SpringModel(torch.nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.log_stiffness = torch.nn.Parameter(torch.tensor(0.0, dtype=torch.float64))
        self.simulate = adjoin.torch.function(springs, backend="torch")
        self.readout = torch.nn.Linear(n, 1, dtype=torch.float64)

    def forward(self, starts: torch.Tensor) -> torch.Tensor:
        k = torch.exp(self.log_stiffness)
        ends = torch.stack([self.simulate(s, k, 20) for s in starts])
        return self.readout(ends).squeeze(-1)


def train(steps: int = 60, seed: int = 0) -> list:
    torch.manual_seed(seed)
    n = 8
    starts = torch.randn(16, n, dtype=torch.float64)
    with torch.no_grad():  # targets from a hidden stiffness and readout
        truth = SpringModel(n)
        truth.log_stiffness.fill_(np.log(2.5))
        targets = truth(starts)
    model = SpringModel(n)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.mean((model(starts) - targets) ** 2)
        loss.backward()  # through torch's layers and adjoin's compiled gradient
        opt.step()
        losses.append(loss.item())
    return losses


if __name__ == "__main__":
    losses = train()
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.6f} in {len(losses)} Adam steps")
