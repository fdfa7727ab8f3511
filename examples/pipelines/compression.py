"""Learned lossy compression of 8x8 digits, trained end to end with adjoin.pipeline.

The codec is four steps, each plain Python + NumPy that adjoin compiles and differentiates:
  encode    an affine map, 64 pixels -> K latents z
  quantize  q = round(z), integer codes. Rounding has derivative zero almost everywhere,
            so it is a straight-through estimator, adjoin.straight_through(np.round):
            forward np.round, backward the identity. This is what lets the decoder's
            error train the encoder through the integer codes.
  decode    an affine map, K codes -> 64 pixels, then a sigmoid
  rd        the loss: distortion + lambda * rate per image, where distortion is the
            squared error summed over the pixels and rate the bits of the codes under a
            learned factorized prior, per latent a discretized logistic of scale s_j:
            P(q) = sigmoid((q + 0.5) / s_j) - sigmoid((q - 0.5) / s_j), bits = -log2 P(q).
            The rate's derivative in z is its slope between the two codes around z (a
            straight-through estimator for the rate; see rate_bits).
It is trained for three lambdas (one in --quick), and compared with what one would do
without learning: PCA with K components, uniform quantization of the coefficients with one
step size, the step set so that the baseline spends the same bits as the learned codec.
Both codecs' bits are also counted the same way: a static per-latent histogram code
fitted on the training images' codes, charged on the test images.

A full run (K = 16 latents, 4000 Adam steps of 64 images per lambda; test MSE per pixel,
bits per image counted by the histogram code) gives:
    lambda 0.02: learned 0.0119 at 33.5 bits, PCA 0.0135 at 33.5 bits (step 0.435)
    lambda 0.1:  learned 0.0262 at 13.2 bits, PCA 0.0296 at 13.2 bits (step 1.166)
    lambda 0.4:  learned 0.0509 at  3.3 bits, PCA 0.0571 at  3.3 bits (step 2.334)
(before training: MSE 0.182 at 33 bits). It writes compression.png: distortion against
rate for both codecs, and test digits with their reconstructions.

    python examples/pipelines/compression.py --quick      # a few seconds, one lambda
    python examples/pipelines/compression.py              # 3 lambdas, timings, compression.png
    python examples/pipelines/compression.py --backend python|llvm|torch
"""
import argparse
import contextlib
import math
import os
import time

import numpy as np

import adjoin

# The trick that makes the quantizer trainable: forward np.round (integer codes),
# backward the identity (the derivative of round itself is 0 wherever it exists).
hard_round = adjoin.straight_through(np.round)


def encode(params, x):
    """Latents (N, K) of images x (N, 64)."""
    return x @ params["W"] + params["b"]


def quantize(params, z):
    """Integer codes of the latents; gradients pass straight through the rounding."""
    return hard_round(z)


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def decode(params, q):
    """Reconstructed images (N, 64) in [0, 1] from codes (N, K)."""
    return sigmoid(q @ params["W"] + params["b"])


def code_bits(q, s):
    """-log2 P(q) for integer codes q under a discretized logistic of scale s."""
    # P is symmetric in q: evaluate it in the lower tail, where the difference of
    # two sigmoids does not cancel.
    a = -np.abs(q)
    return -np.log2(sigmoid((a + 0.5) / s) - sigmoid((a - 0.5) / s) + 1e-12)


def rate_bits(params, z):
    """Bits per image (N,) of the codes round(z) under the learned prior.

    The value is the bits of the integer codes. Its derivative in z is the slope of
    the bits between the two codes around z (a straight-through estimator for the
    rate): through round with the identity it would be the slope at the code
    itself, which is 0 at code 0, so nothing would hold latents near zero.
    """
    n, k = z.shape
    bits = np.zeros(n)
    for j in range(k):
        s = math.exp(params["log_scale"][j])
        zj = z[:, j]
        below = np.floor(zj)
        secant = adjoin.stop_gradient(code_bits(below + 1.0, s) - code_bits(below, s))
        bits = bits + code_bits(np.round(zj), s) + secant * (zj - adjoin.stop_gradient(zj))
    return bits


def squared_error(x_hat, x):
    """Squared error per image (N,), summed over the pixels."""
    return np.sum((x_hat - x) ** 2, axis=1)


def rd_loss(params, x, lam):
    """Per-image rate-distortion loss of the whole codec (N,), as one function: what the
    pipeline computes step by step (the test checks that their gradients agree)."""
    z = encode(params["enc"], x)
    q = quantize({}, z)
    return squared_error(decode(params["dec"], q), x) + lam * rate_bits(params["prior"], z)


def reconstruction(params, x_hat, z):
    """The last step's output: the reconstruction (its loss also reads z)."""
    return x_hat


def make_rd_loss(lam: float):
    """The last step's loss per image: squared error + lam * bits."""
    def rd(params, x_hat, z, x):
        return squared_error(x_hat, x) + lam * rate_bits(params, z)
    return rd


# ---------------------------------------------------------------------------
# Data, the codec as a pipeline, measurements

K = 16                      # latents per image
LAMBDAS = (0.02, 0.1, 0.4)  # bits are worth lambda squared-error units
QUICK_LAMBDA = 0.1


def digits(seed: int = 0):
    """scikit-learn's 8x8 digits scaled to [0, 1], split 1400 train / 397 test."""
    from sklearn.datasets import load_digits
    x = load_digits().data / 16.0
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order[:1400]], x[order[1400:]]


def initial_params(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"enc": {"W": rng.normal(0.0, 0.1, (64, K)), "b": np.zeros(K)},
            "dec": {"W": rng.normal(0.0, 0.1, (K, 64)), "b": np.zeros(64)},
            "prior": {"log_scale": np.zeros(K)}}


def build_codec(lam: float, params: dict, backend: str):
    """encode -> quantize -> decode -> rd, the last step also reading the latents."""
    from adjoin import pipeline as pl
    return pl.Pipeline([
        ("encode", pl.Function(encode, params["enc"], backend=backend)),
        ("quantize", pl.Function(quantize, {}, backend=backend), ("encode",)),
        ("decode", pl.Function(decode, params["dec"], backend=backend), ("quantize",)),
        ("rd", pl.Function(reconstruction, params["prior"], loss=make_rd_loss(lam),
                           backend=backend), ("decode", "encode")),
    ])


def codec_params(pipe) -> dict:
    return {"enc": pipe["encode"].parameters, "dec": pipe["decode"].parameters,
            "prior": pipe["rd"].parameters}


def histogram_bits(train_codes: np.ndarray, test_codes: np.ndarray) -> float:
    """Mean bits per image of a static per-latent histogram code fitted on train_codes
    (counts + 1/2; a code never seen costs what one seen half a time would)."""
    bits = 0.0
    for j in range(train_codes.shape[1]):
        values, counts = np.unique(train_codes[:, j], return_counts=True)
        total = counts.sum() + 0.5 * (len(values) + 1)
        cost = dict(zip(values, -np.log2((counts + 0.5) / total)))
        unseen = -math.log2(0.5 / total)
        bits += np.mean([cost.get(c, unseen) for c in test_codes[:, j]])
    return float(bits)


def measure(params: dict, x_train: np.ndarray, x_test: np.ndarray) -> dict:
    """Test distortion (MSE per pixel) and rate (bits per image) of the learned codec."""
    z = encode(params["enc"], x_test)
    q = np.round(z)
    x_hat = decode(params["dec"], q)
    bits = rate_bits(params["prior"], z)
    codes_train = np.round(encode(params["enc"], x_train))
    return {"mse": float(np.mean((x_hat - x_test) ** 2)), "bits": float(np.mean(bits)),
            "histogram_bits": histogram_bits(codes_train, q), "x_hat": x_hat}


class PcaCodec:
    """The codec without learning: PCA coefficients, uniform quantization with one step."""

    def __init__(self, x_train: np.ndarray):
        from sklearn.decomposition import PCA
        self.pca = PCA(K).fit(x_train)
        self.x_train = x_train

    def point(self, step: float, x_test: np.ndarray) -> dict:
        codes = np.round(self.pca.transform(x_test) / step)
        x_hat = np.clip(self.pca.inverse_transform(codes * step), 0.0, 1.0)
        train_codes = np.round(self.pca.transform(self.x_train) / step)
        return {"step": step, "mse": float(np.mean((x_hat - x_test) ** 2)),
                "histogram_bits": histogram_bits(train_codes, codes), "x_hat": x_hat}

    def at_rate(self, bits: float, x_test: np.ndarray) -> dict:
        """The point whose step makes the bits match `bits` (bisection on log step)."""
        lo, hi = math.log(0.02), math.log(20.0)
        for _ in range(20):
            mid = 0.5 * (lo + hi)
            if self.point(math.exp(mid), x_test)["histogram_bits"] > bits:
                lo = mid
            else:
                hi = mid
        return self.point(math.exp(hi), x_test)


# ---------------------------------------------------------------------------
# Training, timing, the figure


def summary(point: dict, lam: float) -> dict:
    out = {k: v for k, v in point.items() if k != "x_hat"}
    out["loss"] = 64 * out["mse"] + lam * out["bits"]     # the mean test loss per image
    return out


def train(lam: float, steps: int, lr: float, backend: str, x_train, x_test, seed: int = 0):
    """Fit the codec for one lambda with Adam: lr, then lr/3 and lr/10 for a fifth each.
    Returns the pipeline, the test figures before and after, and the seconds per step of
    the last two fifths (the first fit call compiles the steps)."""
    pipe = build_codec(lam, initial_params(seed), backend)
    before = measure(codec_params(pipe), x_train, x_test)
    tail = steps // 5
    schedule = [(lr, steps - 2 * tail), (lr / 3, tail), (lr / 10, tail)]
    for i, (rate, n) in enumerate(schedule):
        if i == 1:
            start = time.perf_counter()
        pipe.fit(x_train, x_train, steps=n, batch_size=64, lr=rate, progress=False, seed=seed + i)
    seconds = (time.perf_counter() - start) / (2 * tail)
    return pipe, before, measure(codec_params(pipe), x_train, x_test), seconds


def seconds_per_step(backend: str, x_train, steps: int) -> float:
    """Wall time of one training step (forward and backward of the four steps, Adam): the
    best of 5 runs of `steps` steps, as the machine is shared."""
    pipe = build_codec(QUICK_LAMBDA, initial_params(1), backend)
    pipe.fit(x_train, x_train, steps=2, batch_size=64, lr=1e-2, progress=False)  # compiles
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        pipe.fit(x_train, x_train, steps=steps, batch_size=64, lr=1e-2, progress=False)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


@contextlib.contextmanager
def one_torch_thread():
    """Tensors this small gain nothing from torch's intra-op threads, and on a busy
    machine those threads wait for each other: Adam's updates (and the torch backend's
    ops) then take milliseconds each instead of microseconds."""
    import torch
    default = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(default)


def plot(runs: list, baseline: PcaCodec, x_test, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (rd, pics) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1, 1.3]})
    curve = [baseline.point(step, x_test) for step in np.geomspace(0.15, 6.0, 24)]
    rd.plot([c["histogram_bits"] for c in curve], [c["mse"] for c in curve], "-",
            color="gray", label="PCA + uniform quantization (step 0.15 .. 6)")
    for run in runs:
        a = run["after"]
        rd.plot(a["histogram_bits"], a["mse"], "o", color="C0")
        rd.plot(run["baseline"]["histogram_bits"], run["baseline"]["mse"], "x", color="gray")
        rd.annotate(f"lambda {run['lambda']}", (a["histogram_bits"], a["mse"]),
                    textcoords="offset points", xytext=(6, 6))
    rd.plot([], [], "o", color="C0", label="learned (adjoin.pipeline)")
    rd.plot([], [], "x", color="gray", label="PCA at the learned codec's rate")
    rd.set_xlabel("rate: bits per image (histogram code of the test codes)")
    rd.set_ylabel("distortion: MSE per pixel (test)")
    rd.set_xlim(0, 60)
    rd.legend()
    rows = [x_test] + [run["x_hat"] for run in runs] + [runs[1]["baseline_x_hat"]]
    names = (["original"]
             + [f"learned, lambda {r['lambda']}, {r['after']['histogram_bits']:.0f} bits"
                for r in runs]
             + [f"PCA, {runs[1]['baseline']['histogram_bits']:.0f} bits"])
    mosaic = np.vstack([np.hstack([np.pad(img.reshape(8, 8), 1, constant_values=0.0)
                                   for img in row[:10]]) for row in rows])
    pics.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1)
    pics.set_yticks([10 * i + 5 for i in range(len(rows))], names)
    pics.set_xticks([])
    pics.set_title("test digits and their reconstructions")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(quick: bool, backend: str = "llvm") -> dict:
    """Train, compare, time (and in full mode plot); returns the figures: per lambda the
    test figures before and after training and those of PCA at the same rate, and the
    seconds per training step per backend (quick: `backend`'s, from the training)."""
    with one_torch_thread():
        return experiment(quick, backend)


def experiment(quick: bool, backend: str) -> dict:
    x_train, x_test = digits()
    baseline = PcaCodec(x_train)
    lambdas = (QUICK_LAMBDA,) if quick else LAMBDAS
    steps, lr = (500, 0.05) if quick else (4000, 0.03)
    runs, seconds = [], {}
    for lam in lambdas:
        _, before, after, seconds[backend] = train(lam, steps, lr, backend, x_train, x_test)
        matched = baseline.at_rate(after["histogram_bits"], x_test)
        runs.append({"lambda": lam, "before": summary(before, lam), "after": summary(after, lam),
                     "baseline": {k: v for k, v in matched.items() if k != "x_hat"},
                     "x_hat": after["x_hat"], "baseline_x_hat": matched["x_hat"]})
        report(runs[-1])
    if not quick:
        seconds = {b: seconds_per_step(b, x_train, 60) for b in ("python", "llvm", "torch")}
    for b, sec in seconds.items():
        print(f"seconds per training step, {b:6s}: {sec * 1e3:.2f} ms (batch of 64)")
    if not quick:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compression.png")
        plot(runs, baseline, x_test, path)
        print(f"wrote {path}")
    for run in runs:
        del run["x_hat"], run["baseline_x_hat"]
    return {"runs": runs, "seconds_per_step": seconds, "latents": K}


def report(run: dict) -> None:
    b, a, base = run["before"], run["after"], run["baseline"]
    print(f"lambda {run['lambda']}:")
    print(f"  before training: MSE {b['mse']:.4f}, {b['bits']:.1f} bits/image (learned prior), "
          f"loss {b['loss']:.3f}")
    print(f"  after training:  MSE {a['mse']:.4f}, {a['bits']:.1f} bits/image (learned prior), "
          f"{a['histogram_bits']:.1f} (histogram code), loss {a['loss']:.3f}")
    print(f"  PCA + uniform quantization, step {base['step']:.3f} (set to match the rate): "
          f"MSE {base['mse']:.4f} at {base['histogram_bits']:.1f} bits/image (histogram code)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one lambda, a few seconds")
    parser.add_argument("--backend", default="llvm", choices=("python", "llvm", "torch"))
    args = parser.parse_args()
    main(args.quick, args.backend)
