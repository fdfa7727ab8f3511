"""Learnable preprocessing on noisy digits: a 3x3 filter and a soft threshold, written as
plain Python loops over pixels, trained end to end through a classifier with adjoin.pipeline.

scikit-learn's 8x8 digits (pixels scaled to [0, 1]) get Gaussian noise (sigma 0.1, clipped
to [0, 1]) and salt: 20% of the pixels set to 1 (fixed seed). Three steps:

  blur       out[n, r, c] = sum_{di, dj} kernel[di, dj] * x[n, r + di - 1, c + dj - 1]
             (zero padding), by explicit loops over images, rows, cols and kernel taps;
  threshold  sigmoid((x - t) / temperature), with t and log(temperature) learnable;
  clf        multinomial logistic regression (W (64, 10), b (10)), per-example
             cross-entropy with a stable log-sum-exp.

The learned pipeline starts at the hand-picked preprocessing (identity kernel, t = 0.5 *
max pixel, temperature 0.05) and trains all three steps jointly; the baseline freezes the
blur and the threshold there and trains the same classifier with the same steps, batches
and optimizer (Adam). Held-out loss and accuracy are measured on a fixed 30% split. The
full run adds two runs for context: the threshold learned with the filter frozen at the
identity (how much of the gain the filter brings), and the classifier on the raw pixels.

The noise is chosen so that preprocessing matters: with Gaussian noise alone (sigma 0.3) the
learned steps gained little over the hand-picked ones in trials (held-out loss 0.58 -> 0.56);
with mostly salt noise the gap is clear. Full run (1000 steps, lr 0.01,
batch 64): held-out loss 0.709 -> 0.548 and accuracy 0.774 -> 0.809 (fixed -> learned); the
learned threshold alone reaches 0.588 / 0.807, the raw pixels 0.700 / 0.776. The learned
"blur" is not a blur: the kernel becomes a mild centre-surround filter (centre 1.7, the
pixels above and below -0.19), sharpening before the threshold.

    python examples/pipelines/learnable_preprocessing.py --quick   # a few seconds, CI
    python examples/pipelines/learnable_preprocessing.py           # full run, plot, timings
    python examples/pipelines/learnable_preprocessing.py --backend python

The full run writes learnable_preprocessing.png next to this file (held-out loss and
accuracy against the training step for every run, and the learned kernel) and times one
training step of the learned pipeline on the python, llvm and torch backends.
"""
import argparse
import importlib.util
import math
import os
import time

import numpy as np

SIDE = 8            # digits are 8x8 images, stored flat as rows of 64 pixels
CLASSES = 10
NOISE_SIGMA = 0.1   # Gaussian noise on every pixel (then clipped to [0, 1])
SALT = 0.2          # fraction of pixels set to the maximum value 1
TEMPERATURE = 0.05  # the hand-picked threshold's temperature
SEED = 0


# -- the steps: plain Python, compiled by adjoin -------------------------------------------------

def blur(params, X):
    """3x3 convolution with zero padding, by loops over images, rows, cols and taps."""
    k = params["kernel"]
    out = np.zeros(X.shape)
    for n in range(X.shape[0]):
        for r in range(SIDE):
            for c in range(SIDE):
                acc = 0.0
                for di in range(3):
                    for dj in range(3):
                        rr = r + di - 1
                        cc = c + dj - 1
                        if 0 <= rr < SIDE and 0 <= cc < SIDE:
                            acc += k[di, dj] * X[n, rr * SIDE + cc]
                out[n, r * SIDE + c] = acc
    return out


def soft_threshold(params, X):
    """sigmoid((x - t) / temperature), the temperature kept positive as exp(log_temp)."""
    z = (X - params["t"]) / math.exp(params["log_temp"])
    return 0.5 + 0.5 * np.tanh(0.5 * z)      # the sigmoid, without overflow


def logits(params, H):
    return H @ params["W"] + params["b"]


def softmax_cross_entropy(z, Y):
    """Per-row cross-entropy of logits z against one-hot Y, with a stable log-sum-exp."""
    m = np.max(z, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(z - m), axis=1))
    return lse - np.sum(z * Y, axis=1)


def cross_entropy(params, H, Y):
    """The classifier's per-example loss."""
    return softmax_cross_entropy(logits(params, H), Y)


# -- data and parameters -------------------------------------------------------------------------

def load_digits():
    """scikit-learn's digits as (pixels 0..16 (1797, 64), labels). The CSV file that
    scikit-learn ships is read directly when it is where scikit-learn keeps it: importing
    sklearn.datasets takes about a second, a seventh of the quick run's budget."""
    spec = importlib.util.find_spec("sklearn")
    path = os.path.join(os.path.dirname(spec.origin), "datasets", "data", "digits.csv.gz") \
        if spec and spec.origin else ""
    if os.path.exists(path):
        table = np.loadtxt(path, delimiter=",")
        return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits as sklearn_digits
    digits = sklearn_digits()
    return digits.data, digits.target


def noisy_digits(seed: int = SEED, test_fraction: float = 0.3):
    """(X_train, Y_train, X_test, Y_test): noisy flat images in [0, 1], one-hot labels."""
    pixels, labels = load_digits()
    rng = np.random.default_rng(seed)
    X = np.clip(pixels / 16.0 + NOISE_SIGMA * rng.standard_normal(pixels.shape), 0.0, 1.0)
    X[rng.random(X.shape) < SALT] = 1.0
    Y = np.eye(CLASSES)[labels]
    order = rng.permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    test, train = order[:n_test], order[n_test:]
    return X[train], Y[train], X[test], Y[test]


def hand_picked():
    """The fixed preprocessing: identity kernel, threshold at half the maximum pixel."""
    kernel = np.zeros((3, 3))
    kernel[1, 1] = 1.0
    return {"kernel": kernel}, {"t": 0.5 * 1.0, "log_temp": math.log(TEMPERATURE)}


def classifier_init():
    return {"W": np.zeros((SIDE * SIDE, CLASSES)), "b": np.zeros(CLASSES)}


# -- pipelines -----------------------------------------------------------------------------------

def make_pipeline(backend: str, frozen=(), preprocess: bool = True):
    """blur -> threshold -> clf, the steps named in `frozen` kept at their hand-picked
    values; with preprocess=False, the classifier alone on the raw pixels."""
    from adjoin import pipeline as pl
    clf = pl.Function(logits, classifier_init(), loss=cross_entropy, backend=backend,
                      name="clf")
    if not preprocess:
        return pl.Pipeline([("clf", clf)])
    kernel, threshold = hand_picked()
    pipe = pl.Pipeline([("blur", pl.Function(blur, kernel, backend=backend, name="blur")),
                        ("threshold", pl.Function(soft_threshold, threshold, backend=backend,
                                                  name="threshold")),
                        ("clf", clf)])
    pipe.freeze(*frozen)
    return pipe


def held_out(pipe, X, Y) -> dict:
    """Held-out loss and accuracy of the pipeline's current parameters (`produce` runs the
    compiled primal of every step, recording no tape)."""
    z = pipe.produce(X)
    return {"test_loss": float(np.mean(softmax_cross_entropy(z, Y))),
            "test_accuracy": float(np.mean(np.argmax(z, axis=1) == np.argmax(Y, axis=1)))}


def train(pipe, data, steps: int, lr: float, batch_size: int, every: int):
    """Fit the pipeline with Adam; returns its history, with the held-out figures every
    `every` steps."""
    import torch
    X_train, Y_train, X_test, Y_test = data

    def callback(p, step):
        return held_out(p, X_test, Y_test)
    return pipe.fit(X_train, Y_train, steps=steps, batch_size=batch_size, lr=lr,
                    optimizer=torch.optim.Adam, progress=False, seed=SEED,
                    callback=callback if every else None, callback_every=every or 1)


def seconds_per_step(backend: str, data, steps: int, batch_size: int) -> float:
    """Wall time of one training step of the learned pipeline (compiling excluded)."""
    pipe = make_pipeline(backend)
    pipe.fit(data[0], data[1], steps=1, batch_size=batch_size, lr=1e-3, progress=False)
    start = time.perf_counter()
    pipe.fit(data[0], data[1], steps=steps, batch_size=batch_size, lr=1e-3, progress=False)
    return (time.perf_counter() - start) / steps


# -- the experiment ------------------------------------------------------------------------------

def main(quick: bool, backend: str = "llvm") -> dict:
    steps, lr, batch_size = (100, 0.05, 64) if quick else (1000, 0.01, 64)
    every = None if quick else 25   # held-out curve points (the quick run: before and after)
    data = noisy_digits()
    result = {"noise": {"sigma": NOISE_SIGMA, "salt": SALT}, "steps": steps, "lr": lr,
              "batch_size": batch_size}
    runs = [("learned", (), True), ("fixed", ("blur", "threshold"), True)]
    if not quick:   # for context: which part of the gain the filter brings, and no preprocessing
        runs += [("threshold only", ("blur",), True), ("raw", (), False)]
    for name, frozen, preprocess in runs:
        pipe = make_pipeline(backend, frozen, preprocess)
        before = held_out(pipe, data[2], data[3])
        history = train(pipe, data, steps, lr, batch_size, every)
        curve = [(h["step"], h["test_loss"], h["test_accuracy"])
                 for h in history if "test_loss" in h]
        result[name] = {"before": before, "after": held_out(pipe, data[2], data[3]),
                        "curve": curve, "train_loss": [h["loss"] for h in history]}
        if name == "learned":
            result["kernel"] = np.array(pipe["blur"].parameters["kernel"])
            result["threshold"] = {k: float(v) for k, v in pipe["threshold"].parameters.items()}
    timing_steps = {"python": 5, "llvm": 50, "torch": 2}
    backends = [backend] if quick else ["python", "llvm", "torch"]
    result["seconds_per_step"] = {b: seconds_per_step(b, data, 20 if quick else timing_steps[b],
                                                      batch_size) for b in backends}
    report(result)
    if not quick:
        plot(result, os.path.splitext(os.path.abspath(__file__))[0] + ".png")
    return result


def report(result: dict) -> None:
    print(f"noisy digits: Gaussian sigma {NOISE_SIGMA}, salt {SALT:.0%}; "
          f"{result['steps']} Adam steps, lr {result['lr']}, batch {result['batch_size']}")
    for name in ("fixed", "learned", "threshold only", "raw"):
        if name in result:
            b, a = result[name]["before"], result[name]["after"]
            print(f"  {name:14s} held-out loss {b['test_loss']:.3f} -> {a['test_loss']:.3f}, "
                  f"accuracy {b['test_accuracy']:.3f} -> {a['test_accuracy']:.3f}")
    th = result["threshold"]
    print(f"  learned threshold t = {th['t']:.3f}, temperature = {math.exp(th['log_temp']):.3f}")
    print("  learned kernel:")
    for row in result["kernel"]:
        print("    " + "  ".join(f"{v:6.2f}" for v in row))
    for b, s in result["seconds_per_step"].items():
        print(f"  {b:6s} {1e3 * s:9.1f} ms per training step (batch {result['batch_size']})")


def plot(result: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    labels = {"fixed": "fixed preprocessing", "learned": "learned filter + threshold",
              "threshold only": "learned threshold, identity filter",
              "raw": "no preprocessing (raw pixels)"}
    for name, style in (("fixed", "--"), ("learned", "-"), ("threshold only", "-."),
                        ("raw", ":")):
        curve = np.array(result[name]["curve"])
        axes[0].plot(curve[:, 0], curve[:, 1], style, label=labels[name])
        axes[1].plot(curve[:, 0], curve[:, 2], style, label=labels[name])
    final = min(result[n]["after"]["test_loss"] for n in labels)
    axes[0].set(xlabel="training step", ylabel="held-out loss", title="held-out cross-entropy",
                ylim=(final - 0.1, 1.3))
    axes[1].set(xlabel="training step", ylabel="held-out accuracy", title="held-out accuracy",
                ylim=(0.6, 0.85))
    for ax in axes[:2]:
        ax.legend()
    k = result["kernel"]
    lim = np.max(np.abs(k))
    im = axes[2].imshow(k, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for (i, j), v in np.ndenumerate(k):
        axes[2].text(j, i, f"{v:.2f}", ha="center", va="center",
                     color="white" if abs(v) > 0.5 * lim else "black")
    axes[2].set(title="learned 3x3 kernel", xticks=[], yticks=[])
    fig.colorbar(im, ax=axes[2])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (CI)")
    parser.add_argument("--backend", default="llvm", choices=["python", "llvm", "torch"])
    args = parser.parse_args()
    main(args.quick, args.backend)
