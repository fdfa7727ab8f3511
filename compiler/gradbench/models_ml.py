"""GradBench's model evals as plain Python that adjoin compiles: lstm, gmm, kmeans.

Assumes: float64 NumPy arrays and Python ints, shaped as the adapter builds them from JSON.
Guarantees (the eval READMEs' definitions, written the way a user writes them):
  * `lstm(main, extra, state, seq)`: the ADBench character LSTM loss (diagonal weights,
    log(2 + sum exp) normalisation), -total / ((C - 1) b);
  * `gmm(alpha, mu, q, L, x, m, gamma)`: the log posterior of the Gaussian mixture with a
    Wishart(gamma, m) prior; `L` is (K, D, D) and only its strictly lower triangle is read,
    so the gradient there is the gradient of GradBench's `l`;
  * `kmeans_cost(points, centroids)`: sum over points of the squared distance to the
    nearest centroid (a min over a loop, as the reference writes it).
"""
import math

import numpy as np

__adjoin_compiles__ = True  # its functions are compiled by adjoin like user code


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm(main, extra, state, seq):
    n_layers = main.shape[0] // 2
    b = seq.shape[1]
    count = seq.shape[0]
    st = np.copy(state)
    total = 0.0
    for t in range(count - 1):
        x = seq[t] * extra[0]
        for layer in range(n_layers):
            w = main[2 * layer]
            bias = main[2 * layer + 1]
            h = st[2 * layer]
            c = st[2 * layer + 1]
            f = sigmoid(x * w[0:b] + bias[0:b])
            i = sigmoid(h * w[b:2 * b] + bias[b:2 * b])
            o = sigmoid(x * w[2 * b:3 * b] + bias[2 * b:3 * b])
            g = np.tanh(h * w[3 * b:4 * b] + bias[3 * b:4 * b])
            c = c * f + i * g
            h = o * np.tanh(c)
            st[2 * layer] = h
            st[2 * layer + 1] = c
            x = h
        yhat = x * extra[1] + extra[2]
        lse = np.log(np.sum(np.exp(yhat)) + 2.0)
        total += np.sum(seq[t + 1] * (yhat - lse))
    return -total / ((count - 1) * b)


def logsumexp(v):
    top = np.max(v)
    return top + math.log(np.sum(np.exp(v - top)))


def gmm(alpha, mu, q, L, x, m, gamma):
    n_points, d = x.shape
    k_count = alpha.shape[0]
    qs = np.zeros((k_count, d, d))
    frob = 0.0
    for k in range(k_count):
        for j in range(d):
            qs[k, j, j] = math.exp(q[k, j])
            frob += math.exp(q[k, j]) ** 2
            for c in range(j):
                qs[k, j, c] = L[k, j, c]
                frob += L[k, j, c] ** 2
    sum_q = np.sum(q, axis=1)
    total = 0.0
    for i in range(n_points):
        beta = np.zeros(k_count)
        for k in range(k_count):
            y = qs[k] @ (x[i] - mu[k])
            beta[k] = alpha[k] + sum_q[k] - 0.5 * np.dot(y, y)
        total += logsumexp(beta)
    n = d + m + 1
    log_gamma_d = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(d):
        log_gamma_d += math.lgamma(0.5 * n - 0.5 * j)
    const = -n_points * d * 0.5 * math.log(2.0 * math.pi) + \
        k_count * (n * d * math.log(gamma / math.sqrt(2.0)) - log_gamma_d)
    prior = 0.5 * gamma * gamma * frob - m * np.sum(sum_q)
    return const + total - n_points * logsumexp(alpha) - prior


def kmeans_cost(points, centroids):
    n, d = points.shape
    k = centroids.shape[0]
    cost = 0.0
    for i in range(n):
        best = math.inf
        for j in range(k):
            dist = 0.0
            for c in range(d):
                diff = points[i, c] - centroids[j, c]
                dist += diff * diff
            best = min(best, dist)
        cost += best
    return cost
