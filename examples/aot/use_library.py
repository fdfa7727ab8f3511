"""The same relaxation as main.c, from Python, through the generated loader.

The loader imports adjoin.runtime and NumPy only: this script runs where the
compiler's dependencies (gast, llvmlite) are not installed.
"""
import os
import sys

import numpy as np

# The folder build.py wrote (its argument; default examples/aot/build/).
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "build")
sys.path.insert(0, BUILD)
import chain_energy as lib  # noqa: E402  (the generated loader)

n = 16
pos = np.stack([0.4 * np.arange(n), np.ones(n)], axis=1)  # held at both ends
for step in range(2000):
    energy, grad = lib.chain_energy_value_and_grad(pos, 10.0, 1.0)
    pos[1:-1] -= 0.01 * grad[1:-1]
    if step % 500 == 0:
        print(f"Python: step {step:3d}  energy {energy:.6f}")
final = lib.chain_energy(pos, 10.0, 1.0)
print(f"Python: final energy {final:.10f}, lowest point {pos[:, 1].min():.6f}")
