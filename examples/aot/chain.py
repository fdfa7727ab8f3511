"""The function the ahead-of-time example compiles: a chain of springs over a floor."""
import math


def chain_energy(pos, k, rest):
    """Energy of unit masses at pos[i] = (x, y), joined in a chain by springs of
    stiffness k and rest length rest: elastic plus gravity, with a stiff penalty
    below the floor y = 0."""
    e = 0.0
    for i in range(pos.shape[0] - 1):
        dx = pos[i + 1, 0] - pos[i, 0]
        dy = pos[i + 1, 1] - pos[i, 1]
        d = math.sqrt(dx * dx + dy * dy)
        e += 0.5 * k * (d - rest) ** 2
    for i in range(pos.shape[0]):
        e += 0.5 * pos[i, 1]
        if pos[i, 1] < 0.0:
            e += 100.0 * pos[i, 1] ** 2
    return e
