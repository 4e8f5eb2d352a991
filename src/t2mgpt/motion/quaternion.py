"""Quaternion and continuous-6D rotation utilities, for numpy arrays and torch tensors alike.

Conventions follow the HumanML3D code: quaternions are (w, x, y, z), products are Hamilton
products, `qrot(q, v)` rotates vectors, rotation matrices act on column vectors, and the
continuous 6D representation (Zhou et al. 2019) is the first two *columns* of the matrix
concatenated: (R[:, 0], R[:, 1]). Every function takes any leading batch dimensions (they
broadcast) and returns the input's kind, dtype and device.
"""
from __future__ import annotations

from t2mgpt.motion import _array as A

_EPS = 1e-12


def cross(a, b):
    """Cross product over the last axis (explicit, so numpy and torch share it)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return A.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx])


def dot(a, b):
    """Inner product over the last axis, keeping it: (..., n), (..., n) -> (..., 1)."""
    return (a * b).sum(-1)[..., None]


def normalize(v):
    return v / A.sqrt(dot(v, v))


def qinv(q):
    """Conjugate = inverse of a unit quaternion."""
    return A.cat([q[..., :1], -q[..., 1:]])


qnormalize = normalize


def qmul(q, r):
    """Hamilton product q * r (apply r first, then q)."""
    w1, x1, y1, z1 = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    w2, x2, y2, z2 = r[..., 0], r[..., 1], r[..., 2], r[..., 3]
    return A.stack([
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ])


def qrot(q, v):
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    qvec = q[..., 1:]
    uv = cross(qvec, v)
    uuv = cross(qvec, uv)
    return v + 2 * (q[..., :1] * uv + uuv)


def qbetween(v0, v1):
    """The shortest-arc unit quaternion rotating direction v0 onto direction v1.

    Same formula as HumanML3D's `qbetween`; for exactly opposite vectors (where that formula
    gives 0/0) it returns a half turn about an axis perpendicular to v0.
    """
    v = cross(v0, v1)
    w = A.sqrt(dot(v0, v0) * dot(v1, v1)) + dot(v0, v1)
    q = A.cat([w, v])
    degenerate = dot(q, q) <= _EPS * (dot(v0, v0) * dot(v1, v1) + _EPS)
    if bool(degenerate.any()):
        # axis = v0 x e, with e the basis vector least aligned with v0
        ax = abs(v0)
        pick_x = ((ax[..., 0] <= ax[..., 1]) & (ax[..., 0] <= ax[..., 2]))[..., None]
        pick_y = (ax[..., 1] <= ax[..., 2])[..., None]
        e = A.where(pick_x, A.like([1, 0, 0], v0),
                    A.where(pick_y, A.like([0, 1, 0], v0), A.like([0, 0, 1], v0)))
        half_turn = A.cat([A.zeros_like(w), cross(v0, e) + A.zeros_like(v)])  # v: the broadcast shape
        q = A.where(degenerate, half_turn, q)
    return normalize(q)


def qfix(q, axis: int = 0):
    """Flip signs so consecutive quaternions along `axis` (time) have non-negative dot products.

    q and -q are the same rotation; this removes the sign jumps (HumanML3D `qfix`).
    """
    axis = axis % q.ndim
    n = q.shape[axis]
    if n < 2:
        return q * 1
    head = q.swapaxes(axis, 0) if not A.is_torch(q) else q.transpose(axis, 0)
    flips = (dot(head[1:], head[:-1]) < 0) * 1  # (n-1, ..., 1)
    flips = A.cumsum(flips, 0) % 2
    sign = A.cat([A.zeros_like(flips[:1]), flips], axis=0)
    out = head * A.cast_like(1 - 2 * sign, head)
    return out.swapaxes(axis, 0) if not A.is_torch(q) else out.transpose(axis, 0)


def quaternion_to_matrix(q):
    """(..., 4) -> (..., 3, 3); q need not be unit length (as in pytorch3d / HumanML3D)."""
    r, i, j, k = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    two_s = 2.0 / (q * q).sum(-1)
    m = A.stack([
        1 - two_s * (j * j + k * k), two_s * (i * j - k * r), two_s * (i * k + j * r),
        two_s * (i * j + k * r), 1 - two_s * (i * i + k * k), two_s * (j * k - i * r),
        two_s * (i * k - j * r), two_s * (j * k + i * r), 1 - two_s * (i * i + j * j),
    ])
    return m.reshape(tuple(q.shape[:-1]) + (3, 3))


def matrix_to_quaternion(m):
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions with w >= 0.

    Shepperd's method: every one of the four candidate formulas is evaluated and the
    numerically best-conditioned one (largest divisor) is kept per matrix.
    """
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # 4 w^2, 4 x^2, 4 y^2, 4 z^2 (clipped: rounding may push them slightly negative)
    sq = A.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                  1 - m00 + m11 - m22, 1 - m00 - m11 + m22])
    root = A.sqrt(A.clip(sq, 0.0, None))  # (..., 4): 2|w|, 2|x|, 2|y|, 2|z|
    candidates = A.stack([
        A.stack([sq[..., 0], m21 - m12, m02 - m20, m10 - m01]),
        A.stack([m21 - m12, sq[..., 1], m10 + m01, m02 + m20]),
        A.stack([m02 - m20, m10 + m01, sq[..., 2], m12 + m21]),
        A.stack([m10 - m01, m20 + m02, m21 + m12, sq[..., 3]]),
    ], axis=-2)  # (..., 4 candidates, 4): candidate c scaled by 2 * root[c]
    best = root.argmax(-1)
    if A.is_torch(m):
        idx = best[..., None, None].expand(*best.shape, 1, 4)
        pick = candidates.gather(-2, idx)[..., 0, :]
        scale = root.gather(-1, best[..., None])
    else:
        import numpy as np

        pick = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
        scale = np.take_along_axis(root, best[..., None], axis=-1)
    q = pick / (2 * scale)
    q = A.where(q[..., :1] < 0, -q, q)
    return normalize(q)


def quaternion_to_cont6d(q):
    """(..., 4) -> (..., 6): the first two matrix columns."""
    m = quaternion_to_matrix(q)
    return A.cat([m[..., 0], m[..., 1]])


def cont6d_to_matrix(c):
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt (HumanML3D `cont6d_to_matrix`)."""
    x = normalize(c[..., 0:3])
    z = normalize(cross(x, c[..., 3:6]))
    y = cross(z, x)
    return A.stack([x, y, z], axis=-1)


def matrix_to_cont6d(m):
    return A.cat([m[..., 0], m[..., 1]])


def cont6d_to_quaternion(c):
    return matrix_to_quaternion(cont6d_to_matrix(c))


def axis_angle_to_quaternion(aa):
    """Rotation vectors (..., 3) (axis * angle in radians) -> unit quaternions (..., 4)."""
    angle = A.sqrt(dot(aa, aa))
    s, c = A.sincos(angle / 2)
    # sin(a/2)/a -> 1/2 as a -> 0 (second-order Taylor term keeps small angles accurate)
    small = angle < 1e-6
    k = A.where(small, 0.5 - angle * angle / 48, s / A.where(small, A.like(1.0, angle), angle))
    return A.cat([c, aa * k])


def quaternion_to_axis_angle(q):
    """Unit quaternions (..., 4) -> rotation vectors (..., 3), angle in [0, pi]."""
    q = A.where(q[..., :1] < 0, -q, q)
    vec = q[..., 1:]
    sin_half = A.sqrt(dot(vec, vec))
    half = _atan2(sin_half, q[..., :1])
    small = sin_half < 1e-6
    k = A.where(small, 2.0 + half * 0, 2 * half / A.where(small, A.like(1.0, sin_half), sin_half))
    return vec * k


def _atan2(y, x):
    if A.is_torch(y):
        return y.atan2(x)
    import numpy as np

    return np.arctan2(y, x)
