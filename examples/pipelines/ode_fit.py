"""Recovering the rates of a predator-prey system from noisy observations.

The Lotka-Volterra equations

    d prey / dt = alpha * prey - beta * prey * pred
    d pred / dt = delta * prey * pred - gamma * pred

are integrated with an explicit fourth-order Runge-Kutta scheme written as a
plain Python loop over time steps, for several trajectories at once (one row
per initial condition). Observations are the simulated populations under the
true rates plus Gaussian noise (fixed seed): the simulation is the data set.

The simulator is one learnable step of an `adjoin.pipeline`: its parameters are
the logarithms of the four rates (so the rates stay positive) and of the
observation noise scale; its log-likelihood is Gaussian, with a weak Gaussian
prior on the log-parameters. Starting from a wrong guess, training recovers the
rates and the noise scale.

    python examples/pipelines/ode_fit.py --quick   # a few seconds, no plot
    python examples/pipelines/ode_fit.py           # full fit, timings, ode_fit.png
"""
import math

import numpy as np

DT = 0.1                 # Runge-Kutta step
SUBSTEPS = 5             # steps between two observations
N_OBS = 30               # observations per trajectory, every DT * SUBSTEPS
PRIOR_SCALE = 3.0        # std of the Gaussian prior on each log-parameter

TRUE_RATES = {"alpha": 1.2, "beta": 0.6, "gamma": 1.0, "delta": 0.4}
TRUE_SIGMA = 0.2
GUESS_RATES = {"alpha": 0.8, "beta": 0.9, "gamma": 1.5, "delta": 0.3}
GUESS_SIGMA = 1.0
RATE_NAMES = ("alpha", "beta", "gamma", "delta")


# ---------------------------------------------------------------------------
# The simulator and its likelihood (compiled by adjoin)


def lotka_volterra(prey, pred, alpha, beta, gamma, delta):
    """Time derivatives of the two populations."""
    d_prey = alpha * prey - beta * prey * pred
    d_pred = delta * prey * pred - gamma * pred
    return d_prey, d_pred


def rk4_step(prey, pred, dt, alpha, beta, gamma, delta):
    """One classical Runge-Kutta step of size dt."""
    k1u, k1v = lotka_volterra(prey, pred, alpha, beta, gamma, delta)
    k2u, k2v = lotka_volterra(prey + 0.5 * dt * k1u, pred + 0.5 * dt * k1v,
                              alpha, beta, gamma, delta)
    k3u, k3v = lotka_volterra(prey + 0.5 * dt * k2u, pred + 0.5 * dt * k2v,
                              alpha, beta, gamma, delta)
    k4u, k4v = lotka_volterra(prey + dt * k3u, pred + dt * k3v, alpha, beta, gamma, delta)
    prey = prey + dt / 6.0 * (k1u + 2.0 * k2u + 2.0 * k3u + k4u)
    pred = pred + dt / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)
    return prey, pred


def simulate(params, x0):
    """Populations (N, N_OBS, 2) observed every SUBSTEPS steps from x0 (N, 2)."""
    alpha = math.exp(params["log_alpha"])
    beta = math.exp(params["log_beta"])
    gamma = math.exp(params["log_gamma"])
    delta = math.exp(params["log_delta"])
    prey = x0[:, 0]
    pred = x0[:, 1]
    traj = np.zeros((x0.shape[0], N_OBS, 2))
    for k in range(N_OBS):
        for s in range(SUBSTEPS):
            prey, pred = rk4_step(prey, pred, DT, alpha, beta, gamma, delta)
        traj[:, k, 0] = prey
        traj[:, k, 1] = pred
    return traj


def log_likelihood(params, x0, observed):
    """Gaussian log-density of each trajectory's observations (N,)."""
    predicted = simulate(params, x0)
    log_sigma = params["log_sigma"]
    r = (observed - predicted) / math.exp(log_sigma)
    count = observed.shape[1] * observed.shape[2]
    return -0.5 * np.sum(r * r, axis=(1, 2)) - count * (log_sigma + 0.5 * math.log(2.0 * math.pi))


def log_prior(params):
    """Weak independent Gaussian prior N(0, PRIOR_SCALE^2) on every log-parameter."""
    sq = (params["log_alpha"] ** 2 + params["log_beta"] ** 2 + params["log_gamma"] ** 2
          + params["log_delta"] ** 2 + params["log_sigma"] ** 2)
    return -0.5 * sq / PRIOR_SCALE ** 2 - 5.0 * math.log(PRIOR_SCALE * math.sqrt(2.0 * math.pi))


# ---------------------------------------------------------------------------
# Data and parameters


def to_params(rates, sigma):
    """Log-parameters (a dict of floats) from rates and a noise scale."""
    params = {"log_" + name: math.log(rates[name]) for name in RATE_NAMES}
    params["log_sigma"] = math.log(sigma)
    return params


def make_data(n_traj, seed=0):
    """Initial populations (n_traj, 2) and their noisy observed trajectories."""
    rng = np.random.default_rng(seed)
    x0 = rng.uniform([1.0, 0.5], [4.0, 3.0], size=(n_traj, 2))
    clean = simulate(to_params(TRUE_RATES, TRUE_SIGMA), x0)
    return x0, clean + TRUE_SIGMA * rng.standard_normal(clean.shape)
