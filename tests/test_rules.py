"""Every derivative rule in the registry, checked against finite differences.

Each entry of SPECS builds a one-op IR function (from IR text), differentiates
it with adjoin's reverse transform and compares with central differences of
the primal. Array results are contracted with a fixed random weight array so
that every function has a scalar output. A test fails when a rule is
registered without a spec here, so a new rule cannot go untested.
"""
import math

import numpy as np
import pytest

import adjoin
from adjoin.ad.registry import JVP, VJP, has_rules
from adjoin.backends.python import compile_module
from adjoin.derivatives import reverse_context
from adjoin.ir import Module, parse_function, verify_function
from adjoin.testing import numeric_grad

rng = np.random.default_rng(7)
V3 = "array<f64, 1>"
M = "array<f64, 2>"
I1 = "array<i64, 1>"
DUP = np.array([0, 2, 2, -1])
T3 = "array<f64, 3>"


def vec(n=3, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, n)


def mat(r=2, c=3, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, (r, c))


def wellposed(n, spd=False):
    """A well-conditioned n x n matrix (symmetric positive definite if asked), with
    well-separated eigenvalues when symmetric."""
    m = rng.uniform(-1.0, 1.0, (n, n))
    return m @ m.T + np.diag(np.arange(1.0, n + 1.0)) * n if spd else m + n * np.eye(n)


def _unary(op, lo=-1.0, hi=1.0):
    return (op, f"%r = {op} %a : f64", ["f64"], [float(rng.uniform(lo, hi))], "f64")


def _unary_arr(op, lo=-1.0, hi=1.0):
    return (op + "[array]", f"%r = {op} %a : {V3}", [V3], [vec(3, lo, hi)], V3)


def _binary(op, lo=0.3, hi=2.0):
    return (op, f"%r = {op} %a, %b : f64", ["f64", "f64"],
            [float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi)) + 0.01], "f64")


UNARY = [("sin",), ("cos",), ("tan",), ("sinh",), ("cosh",), ("tanh",), ("exp",), ("exp2",),
         ("expm1",), ("log", 0.2, 2.0), ("log2", 0.2, 2.0), ("log10", 0.2, 2.0),
         ("log1p", -0.5, 2.0), ("sqrt", 0.2, 2.0), ("cbrt", 0.2, 2.0), ("sigmoid",), ("erf",),
         ("erfc",), ("asin", -0.8, 0.8), ("acos", -0.8, 0.8), ("atan",), ("asinh",),
         ("acosh", 1.2, 3.0), ("atanh", -0.8, 0.8), ("abs", 0.2, 1.0), ("neg",)]
SPECS = [_unary(*u) for u in UNARY] + [_unary_arr(*u) for u in UNARY]
SPECS += [_binary(op) for op in ("add", "sub", "mul", "div", "pow", "minimum", "maximum",
                                 "atan2", "hypot", "mod")]
SPECS += [
    ("copysign", "%r = copysign %a, %b : f64", ["f64", "f64"], [0.7, -1.3], "f64"),
    ("add[broadcast]", f"%r = add %a, %b : {V3}", ["f64", V3], [0.4, vec()], V3),
    ("mul[broadcast]", f"%r = mul %a, %b : {M}", [V3, M], [vec(), mat()], M),
    ("convert", "%t = convert %a {to = f32} : f32\n  %r = convert %t {to = f64} : f64",
     ["f64"], [0.5], "f64", 1e-2),
    ("select", "%c = gt %a, %b : bool\n  %r = select %c, %a, %b : f64", ["f64", "f64"],
     [0.9, 0.2], "f64"),
    ("where", f"%c = gt %a, %b : array<bool, 1>\n  %r = where %c, %a, %b : {V3}", [V3, V3],
     [vec(), vec()], V3),
    ("getitem", "%i = const 1 : i64\n  %r = getitem %a[%i] : f64", [V3], [vec()], "f64"),
    ("getitem[slice]", f"%i = const 1 : i64\n  %r = getitem %a[%i:] : {V3}", [V3], [vec(4)],
     V3),
    ("setitem", f"%i = const 1 : i64\n  %r = setitem %a[%i], %b : {V3}", [V3, "f64"],
     [vec(), 0.3], V3),
    ("addat", f"%i = const 2 : i64\n  %r = addat %a[%i], %b : {V3}", [V3, "f64"],
     [vec(), 0.3], V3),
    ("sum", "%r = sum %a : f64", [V3], [vec()], "f64"),
    ("sum[axis]", f"%r = sum %a {{axis = 1}} : {V3}", [M], [mat(3, 2)], V3),
    ("mean", "%r = mean %a : f64", [V3], [vec()], "f64"),
    ("prod", "%r = prod %a : f64", [V3], [vec()], "f64"),
    ("prod[axis]", f"%r = prod %a {{axis = 1}} : {V3}", [M], [mat(3, 2)], V3),
    ("mean[axis]", f"%r = mean %a {{axis = 0}} : {V3}", [M], [mat(2, 3)], V3),
    ("amax", "%r = amax %a : f64", [V3], [vec()], "f64"),
    ("amin[axis]", f"%r = amin %a {{axis = 1}} : {V3}", [M], [mat(3, 4)], V3),
    ("sum_to", f"%r = sum_to %a, %b : {M}", [M, M], [mat(3, 4), mat(1, 4)], M),
    ("sum_to[rank]", f"%r = sum_to %a, %b : {V3}", [M, V3], [mat(3, 4), vec(4)], V3),
    ("expand_dims", f"%r = expand_dims %a {{axis = 1}} : {M}", [V3], [vec(3)], M),
    ("expand_dims[scalar]", f"%r = expand_dims %a : {V3}", ["f64"], [0.6], V3),
    ("dot[1,1]", "%r = dot %a, %b : f64", [V3, V3], [vec(), vec()], "f64"),
    ("dot[2,1]", f"%r = dot %a, %b : {V3}", [M, V3], [mat(3, 4), vec(4)], V3),
    ("matmul[1,2]", f"%r = matmul %a, %b : {V3}", [V3, M], [vec(2), mat(2, 3)], V3),
    ("matmul[2,2]", f"%r = matmul %a, %b : {M}", [M, M], [mat(2, 3), mat(3, 4)], M),
    ("outer", f"%r = outer %a, %b : {M}", [V3, V3], [vec(2), vec(3)], M),
    ("matmul[batched]", f"%r = matmul %a, %b : {T3}", [T3, M], [rng.uniform(-1, 1, (2, 3, 4)),
                                                               mat(4, 2)], T3),
    ("cumsum", f"%r = cumsum %a {{axis = 1}} : {M}", [M], [mat(2, 4)], M),
    ("cumprod", f"%r = cumprod %a {{axis = 0}} : {V3}", [V3], [vec(5)], V3),
    ("cumprod[zeros]", f"%r = cumprod %a {{axis = 1}} : {M}", [M],
     [np.array([[0.5, 0.0, -1.2, 0.0, 0.8], [0.0, 0.9, 1.1, -0.7, 0.0]])], M),
    ("transpose[axes]", f"%r = transpose %a {{axes = [2, 0, 1]}} : {T3}", [T3],
     [rng.uniform(-1, 1, (2, 3, 4))], T3),
    ("transpose", f"%r = transpose %a : {M}", [M], [mat(2, 3)], M),
    ("reshape", f"%n = const 6 : i64\n  %r = reshape %a, %n : {V3}", [M], [mat(2, 3)], V3),
    ("ravel", f"%r = ravel %a : {V3}", [M], [mat(2, 3)], V3),
    ("copy", f"%r = copy %a : {V3}", [V3], [vec()], V3),
    ("full", f"%n = const 3 : i64\n  %r = full %n, %a : {V3}", ["f64"], [0.7], V3),
    ("full_like", f"%r = full_like %a, %b : {V3}", [V3, "f64"], [vec(), 0.7], V3),
    ("pack", f"%r = pack %a, %b : {V3}", ["f64", "f64"], [0.2, -0.4], V3),
    ("linspace", f"%n = const 4 : i64\n  %r = linspace %a, %b, %n : {V3}", ["f64", "f64"],
     [0.2, 1.4], V3),
    # advanced indexing and sorting (rules_index.py); repeated and negative indices
    ("take", f'%r = take %a, %b {{form = "a"}} : {V3}', [V3, I1], [vec(4), DUP], V3),
    ("take[rows]", f'%r = take %a, %b {{form = "a"}} : {M}', [M, I1], [mat(3, 2), DUP], M),
    ("take[pair]", f'%r = take %a, %b, %c {{form = "aa"}} : {V3}', [M, I1, I1],
     [mat(3, 4), DUP, np.array([1, -1, 1, 0])], V3),
    ("take[mask]", f'%r = take %a, %b {{form = "m"}} : {V3}', [M, "array<bool, 2>"],
     [mat(2, 3), np.array([[True, False, True], [False, True, True]])], V3),
    ("put", f'%r = put %a, %b, %c {{form = "a"}} : {V3}', [V3, I1, V3], [vec(5), DUP, vec(4)],
     V3),
    ("put[cols]", f'%r = put %a, %b, %c {{form = ":a"}} : {M}', [M, I1, "f64"],
     [mat(2, 4), np.array([1, 3, 1]), 0.4], M),
    ("put[mask]", f'%r = put %a, %b, %c {{form = "m"}} : {V3}', [V3, "array<bool, 1>", V3],
     [vec(4), np.array([True, False, True, True]), vec(3)], V3),
    ("put_add", f'%r = put_add %a, %b, %c {{form = "a"}} : {V3}', [V3, I1, V3],
     [vec(5), DUP, vec(4)], V3),
    ("sort", f"%r = sort %a : {V3}", [V3], [vec(5)], V3),
    ("sort[2d]", f"%r = sort %a : {M}", [M], [mat(3, 4)], M),
    # straight: the value of floor, the derivative of sin (the reference is sin itself)
    ("straight", "%s = sin %a : f64\n  %y = floor %a : f64\n  %r = straight %y, %s : f64",
     ["f64"], [0.4], "f64", 1e-6, "%r = sin %a : f64"),
    ("solve", f"%r = solve %a, %b : {V3}", [M, V3], [wellposed(3), vec()], V3),
    ("solve[matrix]", f"%r = solve %a, %b : {M}", [M, M], [wellposed(3), mat(3, 2)], M),
    ("inv", f"%r = inv %a : {M}", [M], [wellposed(3)], M),
    ("det", "%r = det %a : f64", [M], [wellposed(3)], "f64"),
    ("slogdet", "%t = slogdet %a : tuple<f64, f64>\n  %s = tuple_get %t {index = 0} : f64\n"
                "  %l = tuple_get %t {index = 1} : f64\n  %r = mul %s, %l : f64",
     [M], [-wellposed(3)], "f64"),
    # cholesky and eigh read the lower triangle only: the FD of the upper one is 0
    ("cholesky", f"%r = cholesky %a : {M}", [M], [wellposed(3, spd=True)], M),
    ("eigh", f"%t = eigh %a : tuple<{V3}, {M}>\n  %ev = tuple_get %t {{index = 0}} : {V3}\n"
             f"  %vec = tuple_get %t {{index = 1}} : {M}\n  %vv = mul %vec, %vec : {M}\n"
             f"  %e = expand_dims %ev {{axis = 0}} : {M}\n  %r = add %vv, %e : {M}",
     [M], [wellposed(3, spd=True)], M),
    ("eigvalsh", f"%r = eigvalsh %a : {V3}", [M], [wellposed(3, spd=True)], V3),
    ("tuple", "%t = tuple %a, %b : tuple<f64, f64>\n  %r = tuple_get %t {index = 1} : f64\n"
              "  %q = tuple_get %t {index = 0} : f64\n  %s = mul %r, %q : f64\n"
              "  %u = tuple %s : tuple<f64>\n  %v = tuple_get %u {index = 0} : f64",
     ["f64", "f64"], [0.5, 1.5], None),
]


def _function(name, body, params, out, weighted):
    ps = ", ".join(f"%{'abcd'[i]}: {t}" for i, t in enumerate(params))
    if out is None:
        tail, result = "return %v", "f64"
    elif out == "f64" or not weighted:
        tail, result = "return %r", out
    else:
        ps += f", %w: {out}"
        tail, result = "%p = mul %r, %w : " + out + "\n  %s = sum %p : f64\n  return %s", "f64"
    return f"func @rule_{name}({ps}) -> {result} {{\n  {body}\n  {tail}\n}}"


def _clean(name):
    return name.replace("[", "_").replace("]", "").replace(",", "_")


def _compile(f):
    return compile_module(Module([f]), f.name).fn


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s[0])
def test_vjp_rule_matches_finite_differences(spec):
    name, body, params, args, out = spec[:5]
    eps = spec[5] if len(spec) > 5 else 1e-6
    args = list(args)
    if out not in (None, "f64"):  # weight the array result into a scalar
        shape = np.shape(_compile(parse_function(_function(_clean(name), body, params, out,
                                                           False)))(*args))
        args.append(rng.standard_normal(shape))
    f = parse_function(_function(_clean(name), body, params, out, True))
    verify_function(f)
    reference = f if len(spec) < 7 else \
        parse_function(_function(_clean(name) + "_ref", spec[6], params, out, True))
    wrt = [i for i, t in enumerate(params) if t.startswith("f") or "<f" in t]
    ctx = reverse_context()
    g = ctx.gradient(f, wrt, False)
    got = compile_module(ctx.module_for(g), g.name).fn(*args, 1.0)
    got = [got] if len(wrt) == 1 else list(got)
    want = numeric_grad(_compile(reference), args, wrt, eps=eps)
    for k, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, err_msg=f"{name}: operand {k}")


def test_every_vjp_rule_has_a_spec():
    has_rules()
    covered = {s[0].split("[")[0] for s in SPECS} | {"tuple_get"}
    missing = set(VJP) - covered
    assert not missing, f"rules without a test spec: {sorted(missing)}"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s[0])
def test_jvp_rule_matches_finite_differences(spec):
    """The forward rule of the same one-op function, along a random direction."""
    from adjoin.forward_api import forward_context
    name, body, params, args, out = spec[:5]
    eps = spec[5] if len(spec) > 5 else 1e-6
    args = list(args)
    if out not in (None, "f64"):
        shape = np.shape(_compile(parse_function(_function(_clean(name), body, params, out,
                                                           False)))(*args))
        args.append(rng.standard_normal(shape))
    f = parse_function(_function(_clean(name) + "_j", body, params, out, True))
    reference = f if len(spec) < 7 else \
        parse_function(_function(_clean(name) + "_jref", spec[6], params, out, True))
    wrt = [i for i, t in enumerate(params) if t.startswith("f") or "<f" in t]
    mask = tuple(i in wrt for i in range(len(args)))
    ctx = forward_context()
    jf = ctx.jvp_function(f, mask)
    dots = [rng.standard_normal(np.shape(args[i])) if np.ndim(args[i]) else
            float(rng.standard_normal()) for i in wrt]
    _, got = compile_module(ctx.module_for(jf), jf.name).fn(*args, *dots)
    primal = _compile(reference)
    hi = [a + eps * dots[wrt.index(i)] if i in wrt else a for i, a in enumerate(args)]
    lo = [a - eps * dots[wrt.index(i)] if i in wrt else a for i, a in enumerate(args)]
    want = (primal(*hi) - primal(*lo)) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=name)


def test_every_jvp_rule_has_a_spec():
    has_rules()
    covered = {s[0].split("[")[0] for s in SPECS} | {"tuple_get"}
    missing = set(JVP) - covered
    assert not missing, f"tangent rules without a test spec: {sorted(missing)}"


def radius_and_angle(x, y):
    return math.hypot(x, y) + 2.0 * math.atan2(x, y)


def radius_and_angle_arrays(x, y):
    return np.sum(np.hypot(x, y) + 2.0 * np.arctan2(x, y))


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_hypot_and_atan2_have_derivative_zero_at_the_origin(backend):
    grad = adjoin.grad(radius_and_angle, wrt=(0, 1), backend=backend)
    assert grad(0.0, 0.0) == (0.0, 0.0)
    _, dot = adjoin.jvp(radius_and_angle, (0.0, 0.0), (1.0, -1.0), backend=backend)
    assert dot == 0.0
    agrad = adjoin.grad(radius_and_angle_arrays, wrt=(0, 1), backend=backend)
    gx, gy = agrad(np.array([0.0, 0.3]), np.array([0.0, -0.4]))
    np.testing.assert_allclose(gx, [0.0, 0.3 / 0.5 + 2.0 * -0.4 / 0.25], rtol=1e-14)
    np.testing.assert_allclose(gy, [0.0, -0.4 / 0.5 - 2.0 * 0.3 / 0.25], rtol=1e-14)


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_atan2_derivative_does_not_underflow_near_the_origin(backend):
    x, y = 3e-170, 4e-170  # x*x + y*y underflows to 0; the radius does not
    gx, gy = adjoin.grad(radius_and_angle, wrt=(0, 1), backend=backend)(x, y)
    r = 5e-170
    assert gx == pytest.approx(x / r + 2.0 * y / r / r, rel=1e-12)
    assert gy == pytest.approx(y / r - 2.0 * x / r / r, rel=1e-12)
