"""Probabilistic PCA as plain Python functions that adjoin compiles and differentiates.

Assumes: params = {"W": (d, k), "mu": (d,), "log_s2": float}; x is (N, d), z is (N, k).
Guarantees (Tipping and Bishop's model x = W z + mu + noise, z ~ N(0, I), noise ~ N(0, s2 I)):
  * `posterior_mean(p, x)`: E[z | x] = M^-1 W^T (x - mu), M = W^T W + s2 I;
  * `posterior_sample(p, x, eps)`: E[z | x] + sqrt(s2) R^-T eps with M = R R^T, a draw from
    the posterior N(E[z | x], s2 M^-1) that is differentiable in p and x for fixed eps;
  * `posterior_log_density(p, x, z)`: log N(z; E[z | x], s2 M^-1), one value per row;
  * `marginal_log_likelihood(p, x)`: log N(x; mu, W W^T + s2 I), one value per row.
"""
import math

import numpy as np

__adjoin_compiles__ = True  # its functions are compiled by adjoin like user code


def _precision(p):
    W = p["W"]
    k = W.shape[1]
    return W.T @ W + math.exp(p["log_s2"]) * np.eye(k)


def posterior_mean(p, x):
    M = _precision(p)
    return np.linalg.solve(M, p["W"].T @ (x - p["mu"]).T).T


def posterior_sample(p, x, eps):
    M = _precision(p)
    R = np.linalg.cholesky(M)
    spread = np.linalg.solve(R.T, eps.T).T
    return posterior_mean(p, x) + math.sqrt(math.exp(p["log_s2"])) * spread


def posterior_log_density(p, x, z):
    M = _precision(p)
    k = M.shape[0]
    s2 = math.exp(p["log_s2"])
    d = z - posterior_mean(p, x)
    quad = np.sum((d @ M) * d, axis=1) / s2
    logdet_cov = k * p["log_s2"] - np.linalg.slogdet(M)[1]
    return -0.5 * (quad + k * math.log(2 * math.pi) + logdet_cov)


def marginal_log_likelihood(p, x):
    W = p["W"]
    dim = W.shape[0]
    C = W @ W.T + math.exp(p["log_s2"]) * np.eye(dim)
    r = x - p["mu"]
    quad = np.sum(r * np.linalg.solve(C, r.T).T, axis=1)
    return -0.5 * (quad + dim * math.log(2 * math.pi) + np.linalg.slogdet(C)[1])
