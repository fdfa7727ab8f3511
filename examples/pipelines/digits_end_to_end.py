"""End-to-end refinement of a pipeline across three frameworks.

The pipeline of the D3M end-to-end training paper, on scikit-learn's 8x8 digit images:
regress the digit's value (0-9) from its image, as the paper regresses wrist breadth from
hand images.

    torch CNN features  ->  scikit-learn PCA (or probabilistic PCA)  ->  Bayesian linear
    (pre-trained on split A)   (fitted on split B)                      regression in plain
                                                                        Python for adjoin

First every step is trained on its own (the CNN with a linear head on split A, PCA on the
CNN's features of split B, the regression on PCA's outputs of split B). Then the pipeline is
refined end to end on split B with adjoin.pipeline: the CNN, the PCA map and the regression
move together on one objective (the regression's log-likelihood of the digit values, the
CNN's local term on split A, the regression's prior). Held-out error on split C falls below
that of the separately trained pipeline, whose last step alone keeps training for the same
number of steps (the comparison curve).

    python examples/pipelines/digits_end_to_end.py --quick    # seconds, no plot
    python examples/pipelines/digits_end_to_end.py            # full run, digits_end_to_end.png
    python examples/pipelines/digits_end_to_end.py --ppca     # probabilistic PCA, 8 samples
"""
import argparse
import copy
import math
import time

import numpy as np
import torch

from adjoin import pipeline as pl

COMPONENTS = 8
VALUE_MEAN, VALUE_SCALE = 4.5, 2.9   # digit values are standardised for training


# ---------------------------------------------------------------------------
# Bayesian linear regression, compiled by adjoin


def blr_mean(p, z):
    return z @ p["w"] + p["b"]


def blr_log_likelihood(p, z, y):
    """log N(y; w.z + b, s2) per example."""
    r = y - blr_mean(p, z)
    return -0.5 * (r * r * math.exp(-p["log_s2"]) + p["log_s2"] + math.log(2 * math.pi))


def blr_log_prior(p):
    """w, b ~ N(0, 10^2): weak, so the data decide."""
    return -0.5 * (np.sum(p["w"] ** 2) + p["b"] ** 2) / 100.0


# ---------------------------------------------------------------------------
# The torch feature extractor


def cnn(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 8, 8)),
        torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 12, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(48, 16), torch.nn.Tanh())


def squared_error(out, y):
    return (out.squeeze(1) - y) ** 2


def splits(quick: bool):
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order] / 16.0, (y[order] - VALUE_MEAN) / VALUE_SCALE
    sizes = (150, 150, 300) if quick else (600, 600, 597)
    cuts = np.cumsum(sizes)
    return [(x[a:b], y[a:b]) for a, b in zip((0,) + tuple(cuts[:-1]), cuts)]


# ---------------------------------------------------------------------------
# Building and training


def build(split_a, split_b, quick: bool, backend: str, ppca: bool):
    """The separately trained pipeline: every step fitted on its own data."""
    features = cnn(seed=0)
    head = torch.nn.Linear(16, 1)
    pretrain = pl.TorchModule(torch.nn.Sequential(features, head), loss=squared_error,
                              name="cnn+head")
    pretrain.set_training_data(*split_a)
    pretrain.fit(steps=60 if quick else 400, lr=1e-2, batch_size=64)

    # The CNN step keeps a local term: its features must still predict split A through
    # the (now fixed) head, which anchors it during end-to-end refinement.
    cnn_step = pl.TorchModule(features, loss=lambda out, y: squared_error(head(out), y),
                              name="cnn")
    cnn_step.set_training_data(*split_a)
    with torch.no_grad():
        feats_b = features(torch.as_tensor(split_b[0], dtype=torch.float32)).numpy()
    if ppca:
        reduce = pl.ProbabilisticPCA(COMPONENTS, backend=backend, name="ppca")
        reduce.set_training_data(feats_b.astype(np.float64))
    else:
        from sklearn.decomposition import PCA
        reduce = pl.SklearnTransform(PCA(COMPONENTS, whiten=True), trainable=True,
                                     backend=backend, name="pca")
        reduce.set_training_data(feats_b.astype(np.float64))
    reduce.fit()
    blr = pl.Function(blr_mean, {"w": np.zeros(COMPONENTS), "b": 0.0, "log_s2": 0.0},
                      log_likelihood=blr_log_likelihood, log_prior=blr_log_prior,
                      backend=backend, name="blr")
    blr.set_training_data(reduce.produce(feats_b.astype(np.float64)), split_b[1])
    blr.fit(steps=100 if quick else 500, lr=0.05)
    blr.training_data = None  # its split-B features go stale once the CNN moves
    return pl.Pipeline([("cnn", cnn_step), ("reduce", reduce), ("blr", blr)])


def rmse(pipe, split) -> float:
    """Root mean squared error in digit values."""
    return VALUE_SCALE * float(np.sqrt(np.mean((pipe.produce(split[0]) - split[1]) ** 2)))


def refine(pipe, split_b, split_c, steps: int, samples: int, end_to_end: bool):
    """Train on split B; held-out RMSE on split C every 10 steps."""
    if not end_to_end:
        pipe.freeze("cnn", "reduce")
    pipe.fit(*split_b, steps=steps, batch_size=64, lr=2e-3, samples=samples, progress=False,
             callback=lambda p, i: {"test_rmse": rmse(p, split_c)}, callback_every=10)
    return [(h["step"], h["test_rmse"]) for h in pipe.history if "test_rmse" in h]


def seconds_per_step(pipe, split_b, samples: int, backend: str, steps: int = 30) -> float:
    """Time of one end-to-end step with the adjoin steps on `backend` (compiles excluded)."""
    pipe = copy.deepcopy(pipe)
    for name in ("reduce", "blr"):
        pipe[name].backend = backend
    pipe.fit(*split_b, steps=2, batch_size=64, lr=1e-9, samples=samples, progress=False)
    start = time.perf_counter()
    pipe.fit(*split_b, steps=steps, batch_size=64, lr=1e-9, samples=samples, progress=False)
    return (time.perf_counter() - start) / steps


def main(quick: bool, backend: str = "llvm", ppca: bool = False) -> dict:
    split_a, split_b, split_c = splits(quick)
    steps, samples = (40 if quick else 600), (8 if ppca else 1)
    separate = build(split_a, split_b, quick, backend, ppca)
    joint = copy.deepcopy(separate)
    before = rmse(joint, split_c)
    timing = copy.deepcopy(joint)
    separate_curve = refine(separate, split_b, split_c, steps, samples, end_to_end=False)
    joint_curve = refine(joint, split_b, split_c, steps, samples, end_to_end=True)
    figures = {"test_rmse_separately_trained": before,
               "test_rmse_last_step_only": separate_curve[-1][1],
               "test_rmse_end_to_end": joint_curve[-1][1],
               "seconds_per_step": {},
               "curves": {"last step only": separate_curve, "end to end": joint_curve}}
    for other in ((backend,) if quick else ("llvm", "python", "torch")):
        figures["seconds_per_step"][other] = seconds_per_step(timing, split_b, samples, other)
    if not quick:
        plot(figures, ppca)
    report(figures)
    return figures


def report(figures: dict) -> None:
    print(f"held-out RMSE, separately trained     {figures['test_rmse_separately_trained']:.3f}")
    print(f"held-out RMSE, last step kept training {figures['test_rmse_last_step_only']:.3f}")
    print(f"held-out RMSE, refined end to end      {figures['test_rmse_end_to_end']:.3f}")
    for name, sec in figures["seconds_per_step"].items():
        print(f"seconds per training step ({name:6s}) {sec * 1e3:8.2f} ms")


def plot(figures: dict, ppca: bool) -> None:
    import os
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, curve in figures["curves"].items():
        ax.plot(*zip(*curve), label=label)
    ax.axhline(figures["test_rmse_separately_trained"], color="gray", ls=":",
               label="separately trained")
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out RMSE (digit value)")
    ax.set_title("CNN -> " + ("probabilistic PCA" if ppca else "PCA") + " -> Bayesian linear "
                 "regression")
    ax.legend()
    fig.tight_layout()
    stem = "digits_end_to_end" + ("_ppca" if ppca else "")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), stem + ".png")
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run in seconds")
    parser.add_argument("--backend", default="llvm", choices=("python", "llvm", "torch"))
    parser.add_argument("--ppca", action="store_true", help="probabilistic PCA, 8 samples")
    args = parser.parse_args()
    main(args.quick, args.backend, args.ppca)
