"""Learned lossy compression of 8x8 digits, trained end to end with adjoin.

Steps (plain Python + NumPy, compiled and differentiated by adjoin):
  encode    an affine map 64 pixels -> K latents
  quantize  rounds each latent to an integer code; the rounding has derivative zero
            almost everywhere, so it is wrapped in a straight-through estimator:
            forward np.round, backward the identity
  decode    an affine map K codes -> 64 pixels, then a sigmoid
  rate      bits of the codes under a learned factorized prior: per latent a
            discretized logistic with learned scale s_j,
            P(q) = sigmoid((q + 0.5) / s_j) - sigmoid((q - 0.5) / s_j)
The loss per image is distortion + lambda * rate (squared error summed over pixels,
bits summed over latents).

    python examples/pipelines/compression.py           # phase 1: checks and timings
"""
import math

import numpy as np

import adjoin

# The learnable trick: forward np.round (integer codes), backward the identity.
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
    """Per-image rate-distortion loss of the whole codec (N,)."""
    z = encode(params["enc"], x)
    q = quantize(None, z)
    return squared_error(decode(params["dec"], q), x) + lam * rate_bits(params["prior"], z)
