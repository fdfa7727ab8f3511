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
and optimizer (Adam). A third run, the classifier on the raw noisy pixels, is printed for
context. Held-out loss and accuracy are measured on a fixed 30% split.

    python examples/pipelines/learnable_preprocessing.py --quick   # a few seconds, CI
    python examples/pipelines/learnable_preprocessing.py           # full run, plot, timings
    python examples/pipelines/learnable_preprocessing.py --backend python

The full run writes learnable_preprocessing.png next to this file (held-out loss and
accuracy against the training step for both pipelines, and the learned kernel) and times
one training step on the python, llvm and torch backends.
"""
import argparse
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


def cross_entropy(params, H, Y):
    """Per-example cross-entropy of one-hot labels Y, with a stable log-sum-exp."""
    z = logits(params, H)
    m = np.max(z, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(z - m), axis=1))
    return lse - np.sum(z * Y, axis=1)


# -- data and parameters -------------------------------------------------------------------------

def noisy_digits(seed: int = SEED, test_fraction: float = 0.3):
    """(X_train, Y_train, X_test, Y_test): noisy flat images in [0, 1], one-hot labels."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    rng = np.random.default_rng(seed)
    X = np.clip(digits.data / 16.0 + NOISE_SIGMA * rng.standard_normal(digits.data.shape),
                0.0, 1.0)
    X[rng.random(X.shape) < SALT] = 1.0
    Y = np.eye(CLASSES)[digits.target]
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

def make_pipeline(backend: str, learn: bool, preprocess: bool = True):
    """blur -> threshold -> clf; with learn=False the preprocessing is frozen."""
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
    if not learn:
        pipe.freeze("blur")
        pipe.freeze("threshold")
    return pipe


class HeldOut:
    """Held-out loss and accuracy of a pipeline's current parameters (compiled primal
    calls on the llvm backend, so evaluating records no tape)."""

    def __init__(self, X, Y):
        import adjoin
        self.X, self.Y = X, Y
        self.labels = np.argmax(Y, axis=1)
        self.fns = {f.__name__: adjoin.differentiable(f, backend="llvm")
                    for f in (blur, soft_threshold, logits, cross_entropy)}

    def __call__(self, pipe) -> dict:
        H = self.X
        names = [name for name, _ in pipe.steps] if hasattr(pipe, "steps") else []
        if "blur" in names:
            H = self.fns["blur"](pipe["blur"].parameters, H)
            H = self.fns["soft_threshold"](pipe["threshold"].parameters, H)
        clf = pipe["clf"].parameters
        loss = float(np.mean(self.fns["cross_entropy"](clf, H, self.Y)))
        acc = float(np.mean(np.argmax(self.fns["logits"](clf, H), axis=1) == self.labels))
        return {"test_loss": loss, "test_accuracy": acc}


def train(pipe, data, held_out, steps: int, lr: float, batch_size: int, every: int):
    """Fit the pipeline; returns its history with held-out figures every `every` steps."""
    X_train, Y_train = data[0], data[1]

    def callback(p, step):
        return held_out(p) if step % every == 0 or step == steps - 1 else {}

    return pipe.fit(X_train, Y_train, steps=steps, batch_size=batch_size, lr=lr,
                    progress=False, seed=SEED, callback=callback)


def seconds_per_step(backend: str, data, steps: int, batch_size: int) -> float:
    """Wall time of one training step of the learned pipeline (compiling excluded)."""
    pipe = make_pipeline(backend, learn=True)
    pipe.fit(data[0], data[1], steps=1, batch_size=batch_size, lr=1e-3, progress=False)
    start = time.perf_counter()
    pipe.fit(data[0], data[1], steps=steps, batch_size=batch_size, lr=1e-3, progress=False)
    return (time.perf_counter() - start) / steps


# -- the experiment ------------------------------------------------------------------------------

def main(quick: bool, backend: str = "llvm") -> dict:
    steps, lr, batch_size = (100, 0.05, 64) if quick else (800, 0.03, 64)
    every = steps if quick else 20
    data = noisy_digits()
    held_out = HeldOut(data[2], data[3])
    runs = {}
    for name, learn, preprocess in [("learned", True, True), ("fixed", False, True),
                                    ("raw", False, False)]:
        if quick and name == "raw":
            continue
        pipe = make_pipeline(backend, learn, preprocess)
        before = held_out(pipe)
        start = time.perf_counter()
        history = train(pipe, data, held_out, steps, lr, batch_size, every)
        runs[name] = {"before": before, "after": held_out(pipe), "history": history,
                      "seconds": time.perf_counter() - start, "pipe": pipe}
    learned = runs["learned"]["pipe"]
    result = {name: {"before": r["before"], "after": r["after"],
                     "curve": [(h["step"], h["test_loss"], h["test_accuracy"])
                               for h in r["history"] if "test_loss" in h]}
              for name, r in runs.items()}
    result["kernel"] = np.asarray(learned["blur"].parameters["kernel"])
    result["threshold"] = {k: float(v) for k, v in learned["threshold"].parameters.items()}
    result["noise"] = {"sigma": NOISE_SIGMA, "salt": SALT}
    result["steps"], result["lr"], result["batch_size"] = steps, lr, batch_size
    result["seconds_per_step"] = {backend: runs["learned"]["seconds"] / steps}
    if not quick:
        timing_steps = {"python": 5, "llvm": 50, "torch": 2}
        for b in ("python", "llvm", "torch"):
            result["seconds_per_step"][b] = seconds_per_step(b, data, timing_steps[b],
                                                             batch_size)
    report(result, quick)
    if not quick:
        plot(result, os.path.splitext(os.path.abspath(__file__))[0] + ".png")
    return result


def report(result: dict, quick: bool) -> None:
    print(f"noisy digits: Gaussian sigma {NOISE_SIGMA}, salt {SALT:.0%}; "
          f"{result['steps']} Adam steps, lr {result['lr']}, batch {result['batch_size']}")
    for name in ("fixed", "learned", "raw"):
        if name in result:
            b, a = result[name]["before"], result[name]["after"]
            print(f"  {name:8s} held-out loss {b['test_loss']:.3f} -> {a['test_loss']:.3f}, "
                  f"accuracy {b['test_accuracy']:.3f} -> {a['test_accuracy']:.3f}")
    th = result["threshold"]
    print(f"  learned threshold t = {th['t']:.3f}, temperature = {math.exp(th['log_temp']):.3f}")
    print("  learned kernel:\n" + np.array2string(result["kernel"], precision=2,
                                                   suppress_small=True, prefix="    "))
    for b, s in result["seconds_per_step"].items():
        print(f"  {b:6s} {1e3 * s:9.1f} ms per training step (batch {result['batch_size']})")


def plot(result: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, style in (("fixed", "--"), ("learned", "-"), ("raw", ":")):
        curve = np.array(result[name]["curve"])
        axes[0].plot(curve[:, 0], curve[:, 1], style, label=name)
        axes[1].plot(curve[:, 0], curve[:, 2], style, label=name)
    axes[0].set(xlabel="training step", ylabel="held-out loss", title="held-out cross-entropy")
    axes[1].set(xlabel="training step", ylabel="held-out accuracy", title="held-out accuracy")
    for ax in axes[:2]:
        ax.legend()
    k = result["kernel"]
    lim = np.max(np.abs(k))
    im = axes[2].imshow(k, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for (i, j), v in np.ndenumerate(k):
        axes[2].text(j, i, f"{v:.2f}", ha="center", va="center")
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
