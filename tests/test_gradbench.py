"""`python -m adjoin.gradbench` driven by recorded GradBench sessions (tests/data/gradbench).

One subprocess answers every eval's session (start, define, evaluates of each function,
analysis, an unknown kind); each answer is checked for the protocol (ids, success, one
"evaluate" timing per run) and each output against independent references: NumPy/SciPy
formulas for primal values, closed forms or central differences for derivatives. The
sessions are written by tests/scripts/make_gradbench_sessions.py.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from scipy.special import logsumexp, multigammaln

from adjoin.gradbench import models_vision as mv

DATA = os.path.join(os.path.dirname(__file__), "data", "gradbench")
MODULES = ["hello", "llsq", "ode", "lse", "det", "kmeans", "lstm", "gmm", "ba", "ht"]


def run_tool(lines, *args):
    proc = subprocess.run([sys.executable, "-m", "adjoin.gradbench", *args], text=True,
                          input="".join(lines), capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


@pytest.fixture(scope="module")
def sessions():
    """module -> list of (message, answer), every session answered by one process."""
    per_module = {}
    for m in MODULES:
        with open(os.path.join(DATA, f"{m}.jsonl")) as fh:
            per_module[m] = fh.readlines()
    answers, _ = run_tool([line for m in MODULES for line in per_module[m]])
    out, at = {}, 0
    for m in MODULES:
        msgs = [json.loads(line) for line in per_module[m]]
        out[m] = list(zip(msgs, answers[at:at + len(msgs)]))
        at += len(msgs)
    assert at == len(answers)
    return out


def evaluations(sessions, module, function=None):
    return [(msg["input"], ans["output"]) for msg, ans in sessions[module]
            if msg["kind"] == "evaluate" and function in (None, msg["function"])]


def central(fn, x, eps=1e-6):
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros((np.size(fn(x)), x.size))
    for i in range(x.size):
        hi, lo = x.copy().ravel(), x.copy().ravel()
        hi[i] += eps
        lo[i] -= eps
        diff = np.ravel(fn(hi.reshape(x.shape))) - np.ravel(fn(lo.reshape(x.shape)))
        g[:, i] = diff / (2 * eps)
    return g


@pytest.mark.parametrize("module", MODULES)
def test_protocol(sessions, module):
    for msg, ans in sessions[module]:
        assert ans["id"] == msg["id"]
        if msg["kind"] == "start":
            assert ans["tool"] == "adjoin" and ans["config"]["backend"] == "llvm"
        elif msg["kind"] == "define":
            assert ans["success"] is True, ans
            assert [t["name"] for t in ans["timings"]] == ["compile"]
        elif msg["kind"] == "evaluate":
            assert ans["success"] is True, ans
            runs = [t for t in ans["timings"] if t["name"] == "evaluate"]
            want = msg["input"].get("min_runs", 1) if isinstance(msg["input"], dict) else 1
            assert len(runs) >= want and all(isinstance(t["nanoseconds"], int) and
                                             t["nanoseconds"] > 0 for t in runs)
        else:
            assert ans == {"id": msg["id"]}


def test_hello(sessions):
    assert [o for _, o in evaluations(sessions, "hello")] == [2.25, -4.5]


def llsq_ref(x, n):
    t = -1.0 + 2.0 * np.arange(n) / (n - 1)
    return 0.5 * np.sum((np.sign(t) - np.vander(t, len(x), increasing=True) @ x) ** 2)


def test_llsq(sessions):
    (inp, primal), (ginp, grad) = evaluations(sessions, "llsq")
    assert np.isclose(primal, llsq_ref(np.array(inp["x"]), inp["n"]), rtol=1e-12)
    fd = central(lambda x: llsq_ref(x, ginp["n"]), ginp["x"])[0]
    assert np.allclose(grad, fd, rtol=1e-6, atol=1e-8)


def ode_ref(x, s):
    h, y = 2.0 / s, np.zeros_like(x)

    def f(y):
        return np.concatenate([x[:1], x[1:] * y[:-1]])
    for _ in range(s):
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def test_ode(sessions):
    (inp, primal), (ginp, grad) = evaluations(sessions, "ode")
    assert np.allclose(primal, ode_ref(np.array(inp["x"]), inp["s"]), rtol=1e-12)
    fd = central(lambda v: ode_ref(v, ginp["s"])[-1], ginp["x"])[0]
    assert np.allclose(grad, fd, atol=1e-8)


def test_lse(sessions):
    (inp, primal), (ginp, grad) = evaluations(sessions, "lse")
    assert np.isclose(primal, logsumexp(inp["x"]), rtol=1e-12)
    x = np.array(ginp["x"])
    assert np.allclose(grad, np.exp(x - logsumexp(x)), rtol=1e-12)


def test_det(sessions):
    (inp, primal), (ginp, grad) = evaluations(sessions, "det")
    A = np.array(inp["A"]).reshape(inp["ell"], inp["ell"])
    assert np.isclose(primal, np.linalg.det(A), rtol=1e-10)
    A = np.array(ginp["A"]).reshape(ginp["ell"], ginp["ell"])
    assert np.allclose(grad, (np.linalg.det(A) * np.linalg.inv(A).T).ravel(), rtol=1e-9)


def test_kmeans(sessions):
    (inp, cost), (_, direction) = evaluations(sessions, "kmeans")
    P, C = np.array(inp["points"]), np.array(inp["centroids"])
    dist = ((P[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    assert np.isclose(cost, dist.min(axis=1).sum(), rtol=1e-12)
    near = dist.argmin(axis=1)  # J / diag(H) = 2 (n_j C_j - sum P) / (2 n_j) = C_j - mean_j
    want = np.array([C[j] - P[near == j].mean(axis=0) for j in range(len(C))])
    assert np.allclose(direction, want, rtol=1e-10, atol=1e-12)


def lstm_ref(main, extra, state, seq):
    """The eval's definition with the four gates taken as a (4, b) reshape of each row."""
    layers, b = len(main) // 2, seq.shape[1]
    h, c = list(state[0::2]), list(state[1::2])
    loss = 0.0
    for t in range(len(seq) - 1):
        x = seq[t] * extra[0]
        for i in range(layers):
            w, bias = main[2 * i].reshape(4, b), main[2 * i + 1].reshape(4, b)
            inputs = np.stack([x, h[i], x, h[i]])
            z = inputs * w + bias
            f, ig, o = 1 / (1 + np.exp(-z[:3]))
            c[i] = c[i] * f + ig * np.tanh(z[3])
            h[i] = o * np.tanh(c[i])
            x = h[i]
        y = x * extra[1] + extra[2]
        loss += np.sum(seq[t + 1] * (y - np.log(2 + np.sum(np.exp(y)))))
    return -loss / (b * (len(seq) - 1))


def test_lstm(sessions):
    (inp, primal), (_, grad) = evaluations(sessions, "lstm")
    main, extra, state, seq = (np.array(inp[k]) for k in
                               ("main_params", "extra_params", "state", "sequence"))
    assert np.isclose(primal, lstm_ref(main, extra, state, seq), rtol=1e-12)
    both = np.concatenate([main.ravel(), extra.ravel()])

    def loss(v):
        return lstm_ref(v[:main.size].reshape(main.shape), v[main.size:].reshape(extra.shape),
                        state, seq)
    assert len(grad) == both.size
    assert np.allclose(grad, central(loss, both)[0], rtol=1e-6, atol=1e-9)


def gmm_ref(alpha, mu, q, L, x, m, gamma):
    """log p(X | theta, phi) + log p(theta): normal densities of precision Q^T Q and a
    Wishart(V = I / gamma^2, D + m + 1) prior on each precision, from their textbook pdfs."""
    k, d = mu.shape
    Q = L + np.stack([np.diag(np.exp(qk)) for qk in q])
    lam = np.einsum("kji,kjl->kil", Q, Q)
    diff = x[:, None, :] - mu[None]
    quad = np.einsum("nki,kij,nkj->nk", diff, lam, diff)
    logdet = np.linalg.slogdet(lam)[1]
    log_phi = alpha - logsumexp(alpha)
    like = logsumexp(log_phi + 0.5 * logdet - 0.5 * d * np.log(2 * np.pi) - 0.5 * quad, axis=1)
    n = d + m + 1
    prior = 0.5 * (n - d - 1) * logdet - 0.5 * gamma ** 2 * np.trace(lam, axis1=1, axis2=2) \
        - 0.5 * n * d * np.log(2) + n * d * np.log(gamma) - multigammaln(0.5 * n, d)
    return like.sum() + prior.sum()


def test_gmm(sessions):
    (inp, primal), (_, grad), (flat_inp, flat_grad) = evaluations(sessions, "gmm")
    k, d = inp["k"], inp["d"]
    L = np.zeros((k, d, d))
    for kk in range(k):
        for r in range(1, d):
            L[kk, r, :r] = inp["l"][kk][r]
    args = [np.array(inp[f]) for f in ("alpha", "mu", "q")]
    rest = (np.array(inp["x"]), inp["m"], inp["gamma"])
    assert np.isclose(primal, gmm_ref(*args, L, *rest), rtol=1e-10)
    sizes = [a.size for a in args] + [L.size]
    flat = np.concatenate([a.ravel() for a in args] + [L.ravel()])

    def unflat(v):
        parts = np.split(v, np.cumsum(sizes)[:-1])
        return [p.reshape(a.shape) for p, a in zip(parts, args + [L])]
    fd = unflat(central(lambda v: gmm_ref(*unflat(v), *rest), flat)[0])
    for name, want in zip(("alpha", "mu", "q"), fd):
        assert np.allclose(grad[name], want, rtol=1e-5, atol=1e-7), name
    jagged = [[fd[3][kk, r, :r].tolist() for r in range(d)] for kk in range(k)]
    for got, want in zip(grad["l"], jagged):
        assert all(np.allclose(g, w, rtol=1e-5, atol=1e-7) for g, w in zip(got, want))
    # the flat layout (strictly lower part column by column) answers in that layout
    order = [(r, c) for c in range(d) for r in range(c + 1, d)]
    assert flat_grad["l"] == [[grad["l"][kk][r][c] for r, c in order] for kk in range(k)]
    assert flat_grad["alpha"] == grad["alpha"] and flat_inp["l"][0] == \
        [inp["l"][0][r][c] for r, c in order]


def ba_residual(cam, X, w, feat):
    """One observation: SciPy's rotation of X - C by the rotation vector, then distortion."""
    xc = Rotation.from_rotvec(cam[:3]).apply(X - cam[3:6])
    u = xc[:2] / xc[2]
    rsq = u @ u
    proj = u * (1 + cam[9] * rsq + cam[10] * rsq ** 2) * cam[6] + cam[7:9]
    return w * (proj - feat)


def test_ba(sessions):
    (inp, obj), (_, jac) = evaluations(sessions, "ba")
    cam, X, w, feat, p = (np.array(inp[k]) for k in ("cam", "x", "w", "feat", "p"))
    first = ba_residual(cam, X, w, feat)
    assert np.allclose(obj["reproj_error"]["elements"], first, rtol=1e-10)
    assert obj["reproj_error"]["repeated"] == p and obj["w_err"]["repeated"] == p
    assert np.isclose(obj["w_err"]["element"], 1 - w * w)
    n, m = inp["n"], inp["m"]
    rows = [15 * i for i in range(2 * p + 1)] + [30 * p + 1 + i for i in range(p)]
    assert jac["rows"] == rows[:30] + rows[-1:]
    want_cols = list(range(11)) + [11 * n, 11 * n + 1, 11 * n + 2, 11 * n + 3 * m]
    assert jac["cols"] == want_cols * 2 + [11 * n + 3 * m + p - 1]
    v = np.concatenate([cam, X, [w]])
    block = central(lambda v: ba_residual(v[:11], v[11:14], v[14], feat), v)
    assert np.allclose(jac["vals"][:30], block.ravel(), rtol=1e-6, atol=1e-8)
    assert np.isclose(jac["vals"][30], -2 * w)


def ht_args(inp):
    model, data = inp["data"]["model"], inp["data"]
    arrays = [np.array(model[k]) for k in ("parents", "base_relatives",
                                           "inverse_base_absolutes", "base_positions", "weights")]
    return arrays + [model["is_mirrored"]], np.array(model["triangles"]), \
        np.array(data["correspondences"]), np.array(data["points"])


def test_ht(sessions):
    """Against CPython running the same model, and central differences of it."""
    (inp, obj), (_, jac), (inp_us, obj_us), (_, jac_us) = evaluations(sessions, "ht")
    model, _, corr, points = ht_args(inp)
    theta = np.array(inp["theta"])
    residual = mv.ht_objective(theta, *model, corr, points)
    assert np.allclose(obj, residual.ravel(), rtol=1e-12, atol=1e-13)
    fd = central(lambda t: mv.ht_objective(t, *model, corr, points), theta)
    assert np.array(jac).shape == (3 * len(corr), 26) and np.allclose(jac, fd, atol=1e-7)
    model, tris, corr, points = ht_args(inp_us)
    theta, us = np.array(inp_us["theta"]), np.array(inp_us["us"])

    def f(t, u):
        return mv.ht_objective_us(t, u, *model, tris, corr, points)
    assert np.allclose(obj_us, f(theta, us).ravel(), rtol=1e-12, atol=1e-13)
    jac_us = np.array(jac_us)
    assert jac_us.shape == (3 * len(corr), 28)
    assert np.allclose(jac_us[:, 2:], central(lambda t: f(t, us), theta), atol=1e-7)
    for j in range(2):  # row q's own u only: the sum over all u_q of one coordinate
        du = np.zeros_like(us)
        du[:, j] = 1e-6
        assert np.allclose(jac_us[:, j], (f(theta, us + du) - f(theta, us - du)).ravel() / 2e-6,
                           atol=1e-7)


def test_bad_messages_get_failure_answers_and_the_process_continues():
    with open(os.path.join(DATA, "bad.jsonl")) as fh:
        lines = fh.readlines()
    answers, stderr = run_tool(lines)
    by_id = {a["id"]: a for a in answers}
    assert [a["id"] for a in answers] == list(range(12))
    assert by_id[0]["tool"] == "adjoin"
    assert by_id[1]["success"] is False and "no-such-eval" in by_id[1]["error"]
    assert by_id[2]["success"] is False and "no-such-eval" in by_id[2]["error"]
    assert by_id[3]["success"] is True
    assert by_id[4]["success"] is False and "'hessian'" in by_id[4]["error"]
    assert "no field 'x'" in by_id[5]["error"]
    assert "rectangular" in by_id[6]["error"]
    assert "min_runs" in by_id[7]["error"]
    assert "malformed" in by_id[8]["error"]  # its line was cut: the id is still answered
    assert "ell * ell" in by_id[9]["error"]
    assert by_id[10]["success"] is True and np.allclose(
        by_id[10]["output"], np.exp(np.array([1.0, 2.0, 0.5]) - logsumexp([1.0, 2.0, 0.5])))
    assert by_id[11] == {"id": 11}
    assert stderr.count("adjoin.gradbench: ignoring a line") == 4


def test_python_backend_option():
    msgs = [{"id": 0, "kind": "start"}, {"id": 1, "kind": "define", "module": "det"},
            {"id": 2, "kind": "evaluate", "module": "det", "function": "gradient",
             "input": {"A": [1.0, 2.0, 3.0, 5.0], "ell": 2, "min_runs": 3, "min_seconds": 0}}]
    answers, _ = run_tool([json.dumps(m) + "\n" for m in msgs], "--backend", "python")
    assert answers[0]["config"]["backend"] == "python"
    assert answers[2]["output"] == [5.0, -3.0, -2.0, 1.0]
    assert sum(t["name"] == "evaluate" for t in answers[2]["timings"]) == 3
