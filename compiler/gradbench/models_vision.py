"""GradBench's vision evals as plain Python that adjoin compiles: ba and ht.

Assumes: float64 NumPy arrays, int64 index arrays and Python ints/bools, shaped as the
adapter builds them from JSON (every matrix row-major, indices 0-based).
Guarantees (the eval READMEs' definitions, written the way a user writes them):
  * `reproj_error(cam, X, w, feat)`: w * (project(cam, X) - feat) for one camera
    [r, C, f, u0, v0, k1, k2] (Rodrigues rotation of X - C, perspective division, radial
    distortion, focal length and principal point);
  * `ba_objective(cams, X, w, obs, feats)`: the (p, 2) reprojection residuals, observation
    i seen by camera obs[i, 0] at point obs[i, 1]; `ba_observed(cams_o, X_o, w, feats)`
    the same with row i of `cams_o`/`X_o` the camera and point of observation i, so its
    residual row i depends on row i of each input only (the Jacobian's blocks come out
    of two pullbacks); `ba_weight_error(w)`: 1 - w^2;
  * `ht_objective(theta, model...)`: the (N, 3) residuals points - skinned vertices of the
    linear blend skinning hand model posed by theta; `ht_objective_us` the same at
    barycentric points u1 v_i + u2 v_j + (1 - u1 - u2) v_k of the corresponding triangles.
"""
import math

import numpy as np

__adjoin_compiles__ = True  # its functions are compiled by adjoin like user code


# -- ba ---------------------------------------------------------------------------------------


def rodrigues(r, x):
    sqtheta = r[0] * r[0] + r[1] * r[1] + r[2] * r[2]
    out = np.zeros(3)
    if sqtheta != 0.0:
        theta = math.sqrt(sqtheta)
        c = math.cos(theta)
        s = math.sin(theta)
        w = r / theta
        wx = np.array([w[1] * x[2] - w[2] * x[1], w[2] * x[0] - w[0] * x[2],
                       w[0] * x[1] - w[1] * x[0]])
        along = (w[0] * x[0] + w[1] * x[1] + w[2] * x[2]) * (1.0 - c)
        out = x * c + wx * s + w * along
    else:
        rx = np.array([r[1] * x[2] - r[2] * x[1], r[2] * x[0] - r[0] * x[2],
                       r[0] * x[1] - r[1] * x[0]])
        out = x + rx
    return out


def reproj_error(cam, X, w, feat):
    xcam = rodrigues(cam[0:3], X - cam[3:6])
    u = xcam[0] / xcam[2]
    v = xcam[1] / xcam[2]
    rsq = u * u + v * v
    distort = 1.0 + cam[9] * rsq + cam[10] * rsq * rsq
    err = np.zeros(2)
    err[0] = w * (u * distort * cam[6] + cam[7] - feat[0])
    err[1] = w * (v * distort * cam[6] + cam[8] - feat[1])
    return err


def ba_objective(cams, X, w, obs, feats):
    p = w.shape[0]
    out = np.zeros((p, 2))
    for i in range(p):
        out[i] = reproj_error(cams[obs[i, 0]], X[obs[i, 1]], w[i], feats[i])
    return out


def ba_observed(cams_o, X_o, w, feats):
    p = w.shape[0]
    out = np.zeros((p, 2))
    for i in range(p):
        out[i] = reproj_error(cams_o[i], X_o[i], w[i], feats[i])
    return out


def ba_weight_error(w):
    return 1.0 - w * w


# -- ht ---------------------------------------------------------------------------------------


def angle_axis_to_rotation(aa):
    norm = math.sqrt(aa[0] * aa[0] + aa[1] * aa[1] + aa[2] * aa[2])
    if norm < 0.0001:
        return np.eye(3)
    x = aa[0] / norm
    y = aa[1] / norm
    z = aa[2] / norm
    s = math.sin(norm)
    c = math.cos(norm)
    return np.array([[x * x + (1 - x * x) * c, x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
                     [x * y * (1 - c) + z * s, y * y + (1 - y * y) * c, y * z * (1 - c) - x * s],
                     [x * z * (1 - c) - y * s, z * y * (1 - c) + x * s, z * z + (1 - z * z) * c]])


def euler_to_rotation(tx, tz, ty):
    """R_z(tz) R_y(ty) R_x(tx), the angles given in x, z, y order."""
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(tx), -math.sin(tx)],
                   [0.0, math.sin(tx), math.cos(tx)]])
    ry = np.array([[math.cos(ty), 0.0, math.sin(ty)], [0.0, 1.0, 0.0],
                   [-math.sin(ty), 0.0, math.cos(ty)]])
    rz = np.array([[math.cos(tz), -math.sin(tz), 0.0], [math.sin(tz), math.cos(tz), 0.0],
                   [0.0, 0.0, 1.0]])
    return rz @ ry @ rx


def pose_params(theta, n_bones):
    """3 x (B + 3): global rotation, scale 1, translation, then the finger joint angles."""
    P = np.zeros((3, n_bones + 3))
    for i in range(3):
        P[i, 0] = theta[i]
        P[i, 1] = 1.0
        P[i, 2] = theta[3 + i]
    i_theta = 6
    col = 5
    for finger in range(5):
        for joint in range(2, 5):
            P[0, col] = theta[i_theta]
            i_theta += 1
            if joint == 2:
                P[1, col] = theta[i_theta]
                i_theta += 1
            col += 1
        col += 1
    return P


def skinned_vertices(theta, parents, base_relatives, inverse_base_absolutes,
                     base_positions, weights, mirrored):
    n_bones = parents.shape[0]
    P = pose_params(theta, n_bones)
    absolutes = np.zeros((n_bones, 4, 4))
    positions = np.zeros((base_positions.shape[0], 3))
    for b in range(n_bones):
        local = np.eye(4)
        local[0:3, 0:3] = euler_to_rotation(P[0, b + 3], P[1, b + 3], P[2, b + 3])
        relative = base_relatives[b] @ local
        if parents[b] == -1:
            absolutes[b] = relative
        else:
            absolutes[b] = absolutes[parents[b]] @ relative
        moved = base_positions @ (absolutes[b] @ inverse_base_absolutes[b]).T
        positions = positions + moved[:, 0:3] * weights[:, b:b + 1]
    if mirrored:
        positions[:, 0] = -positions[:, 0]
    R = angle_axis_to_rotation(P[:, 0]) * P[:, 1]
    return positions @ R.T + P[:, 2]


def ht_objective(theta, parents, base_relatives, inverse_base_absolutes, base_positions,
                 weights, mirrored, correspondences, points):
    verts = skinned_vertices(theta, parents, base_relatives, inverse_base_absolutes,
                             base_positions, weights, mirrored)
    err = np.zeros((points.shape[0], 3))
    for i in range(points.shape[0]):
        err[i] = points[i] - verts[correspondences[i]]
    return err


def ht_objective_us(theta, us, parents, base_relatives, inverse_base_absolutes,
                    base_positions, weights, mirrored, triangles, correspondences, points):
    verts = skinned_vertices(theta, parents, base_relatives, inverse_base_absolutes,
                             base_positions, weights, mirrored)
    err = np.zeros((points.shape[0], 3))
    for i in range(points.shape[0]):
        tri = triangles[correspondences[i]]
        hand = us[i, 0] * verts[tri[0]] + us[i, 1] * verts[tri[1]] + \
            (1.0 - us[i, 0] - us[i, 1]) * verts[tri[2]]
        err[i] = points[i] - hand
    return err
