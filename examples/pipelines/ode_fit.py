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


def rates_of(params):
    """The four rates and the noise scale of a log-parameter dict."""
    return {name: math.exp(params["log_" + name]) for name in RATE_NAMES + ("sigma",)}


def rate_error(params):
    """Mean relative error of the four rates against the true ones."""
    rates = rates_of(params)
    return float(np.mean([abs(rates[k] - TRUE_RATES[k]) / TRUE_RATES[k] for k in RATE_NAMES]))


def rmse(params, x0, observed):
    """Root mean square difference between simulated and observed populations."""
    return float(np.sqrt(np.mean((simulate(params, x0) - observed) ** 2)))


# ---------------------------------------------------------------------------
# The pipeline


def make_pipeline(backend):
    """One learnable step: the simulator, scored by its Gaussian log-likelihood."""
    from adjoin import pipeline as pl
    step = pl.Function(simulate, to_params(GUESS_RATES, GUESS_SIGMA),
                       log_likelihood=log_likelihood, log_prior=log_prior,
                       backend=backend, name="lotka_volterra")
    return pl.Pipeline([("ode", step)])


def train(backend, x0, observed, steps, lr):
    """Fit from the initial guess; returns the pipeline, the history and seconds per step."""
    import time
    pipe = make_pipeline(backend)
    history = pipe.fit(x0, observed, steps=steps, batch_size=len(x0), lr=lr, progress=False,
                       seed=0, callback=lambda pipe, step: {"time": time.perf_counter()})
    # The first step compiles: time the steps after it.
    per_step = (history[-1]["time"] - history[0]["time"]) / max(1, len(history) - 1)
    return pipe, history, per_step


def seconds_per_step(backend, x0, observed, steps):
    """Seconds per training step on one backend (compilation excluded)."""
    return train(backend, x0, observed, steps, lr=0.05)[2]


def main(quick: bool, backend: str = "llvm") -> dict:
    n_traj, steps = (8, 100) if quick else (16, 400)
    x0, observed = make_data(n_traj)
    guess = to_params(GUESS_RATES, GUESS_SIGMA)
    pipe, history, per_step = train(backend, x0, observed, steps, lr=0.05)
    fitted = pipe["ode"].parameters
    figures = {
        "rate_error_before": rate_error(guess), "rate_error_after": rate_error(fitted),
        "rmse_before": rmse(guess, x0, observed), "rmse_after": rmse(fitted, x0, observed),
        "sigma_true": TRUE_SIGMA, "sigma_learned": rates_of(fitted)["sigma"],
        "rates_learned": {k: rates_of(fitted)[k] for k in RATE_NAMES},
        "loss_before": history[0]["loss"], "loss_after": history[-1]["loss"],
        "seconds_per_step": {backend: per_step},
    }
    if not quick:
        for other in ("python", "llvm", "torch"):
            if other != backend:
                figures["seconds_per_step"][other] = seconds_per_step(other, x0, observed, 15)
        sps = figures["seconds_per_step"]
        figures["python_over_llvm"] = sps["python"] / sps["llvm"]
        plot(x0, observed, guess, fitted, history)
    report(figures, quick)
    return figures


def report(figures, quick):
    print(f"rates   true  {TRUE_RATES}")
    print("        fitted " + str({k: round(v, 4) for k, v in figures["rates_learned"].items()}))
    print(f"relative rate error  {figures['rate_error_before']:.3f} -> "
          f"{figures['rate_error_after']:.4f}")
    print(f"observation RMSE     {figures['rmse_before']:.3f} -> {figures['rmse_after']:.4f}")
    print(f"noise scale learned  {figures['sigma_learned']:.4f} (true {figures['sigma_true']})")
    print(f"loss                 {figures['loss_before']:.2f} -> {figures['loss_after']:.3f}")
    for name, sec in figures["seconds_per_step"].items():
        print(f"seconds per training step on {name:6s} {sec * 1e3:8.2f} ms")
    if not quick:
        print(f"llvm is {figures['python_over_llvm']:.0f}x faster than python")


def dense_trajectory(params, start, substeps=4):
    """Times and populations (T, 2) of one trajectory from t = 0, on a finer grid (plots)."""
    r = rates_of(params)
    prey, pred = start
    times, out = [0.0], [(prey, pred)]
    for k in range(N_OBS * SUBSTEPS * substeps):
        prey, pred = rk4_step(prey, pred, DT / substeps, r["alpha"], r["beta"], r["gamma"],
                              r["delta"])
        times.append((k + 1) * DT / substeps)
        out.append((prey, pred))
    return np.array(times), np.array(out)


def plot(x0, observed, guess, fitted, history):
    """Observations, the initial-guess and fitted trajectories, and the loss curve."""
    import os
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t_obs = DT * SUBSTEPS * np.arange(1, N_OBS + 1)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for row, ax in enumerate(axes[:2]):
        t, before = dense_trajectory(guess, x0[row])
        after = dense_trajectory(fitted, x0[row])[1]
        for j, (label, color) in enumerate((("prey", "tab:blue"), ("predators", "tab:red"))):
            ax.plot(t_obs, observed[row, :, j], "o", color=color, ms=3, label=f"{label} observed")
            ax.plot(t, before[:, j], "--", color=color, alpha=0.5, label="initial guess")
            ax.plot(t, after[:, j], "-", color=color, label="fitted")
        ax.set_title(f"trajectory {row} from x0 = ({x0[row, 0]:.2f}, {x0[row, 1]:.2f})")
        ax.set_xlabel("time")
    axes[0].legend(fontsize=7)
    loss = np.array([h["loss"] for h in history])
    axes[2].semilogy(loss - loss.min() + 1e-3)
    axes[2].set_title("training loss above its final minimum")
    axes[2].set_xlabel("step")
    fig.tight_layout()
    path = os.path.splitext(os.path.abspath(__file__))[0] + ".png"
    fig.savefig(path, dpi=110)
    print("wrote", path)


if __name__ == "__main__":
    import sys
    main(quick="--quick" in sys.argv)
