"""A two-layer MLP with softmax cross-entropy, written the ordinary NumPy way, trained by
gradient descent with adjoin.

The loss reads its parameters from a dict, normalizes with `keepdims`, adds the bias
with `np.newaxis`, and picks each example's label probability by fancy indexing;
`adjoin.grad` returns the gradient as a dict like the parameters.

    python examples/mlp_numpy.py [--backend python|llvm|torch] [--steps N]
"""
import argparse

import numpy as np

import adjoin


def loss(params, X, y):
    hidden = np.tanh(X @ params["W1"] + params["b1"][np.newaxis, :])
    logits = hidden @ params["W2"] + params["b2"]
    logits = logits - np.max(logits, axis=1, keepdims=True)
    probs = np.exp(logits) / np.sum(np.exp(logits), axis=1, keepdims=True)
    picked = probs[np.arange(X.shape[0]), y]
    return -np.mean(np.log(picked)) + 1e-4 * (np.sum(params["W1"] ** 2)
                                              + np.sum(params["W2"] ** 2))


def accuracy(params, X, y):
    hidden = np.tanh(X @ params["W1"] + params["b1"])
    return float(np.mean(np.argmax(hidden @ params["W2"] + params["b2"], axis=1) == y))


def spirals(n_per_class: int = 60, classes: int = 3, seed: int = 0):
    """Points on interleaved spiral arms, one arm per class."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for c in range(classes):
        r = np.linspace(0.1, 1.0, n_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.normal(0, 0.2, n_per_class)
        X.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        y.append(np.full(n_per_class, c))
    return np.concatenate(X), np.concatenate(y)


def train(backend: str = "python", steps: int = 300, lr: float = 1.0, seed: int = 1):
    X, y = spirals()
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(0, 1.0, (2, 32)), "b1": np.zeros(32),
              "W2": rng.normal(0, 0.3, (32, 3)), "b2": np.zeros(3)}
    value_and_grad = adjoin.value_and_grad(loss, backend=backend)
    history = []
    for step in range(steps):
        value, grads = value_and_grad(params, X, y)
        params = {k: params[k] - lr * grads[k] for k in params}
        history.append(float(value))
        if step % 50 == 0:
            print(f"step {step:4d}  loss {value:.4f}  accuracy {accuracy(params, X, y):.2f}")
    print(f"final loss {history[-1]:.4f}, accuracy {accuracy(params, X, y):.2f}")
    return params, history, accuracy(params, X, y)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="python", choices=["python", "llvm", "torch"])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    train(args.backend, args.steps)
