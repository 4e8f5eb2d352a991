"""A simple procedural character for skinned exports: one tapered 8-sided tube per bone.

Each tube is bound to the joint the bone hangs from (weight 1), so it turns with that joint;
the head and the hands get a small box on their (leaf) joint. Coloured like the stick figure
of `t2mgpt.render` (left limbs blue, right limbs red/orange, trunk slate). Flat-shaded.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from t2mgpt.motion.rigid import unit
from t2mgpt.motion.skeleton import Skeleton

SIDES = 8


@dataclass
class Mesh:
    positions: np.ndarray  # (V, 3) float32, bind pose (the rest pose), metres
    normals: np.ndarray  # (V, 3) float32
    colors: np.ndarray  # (V, 4) float32, linear RGBA
    joints: np.ndarray  # (V, 4) uint16: the skin joint of each vertex (first slot)
    weights: np.ndarray  # (V, 4) float32: (1, 0, 0, 0)
    indices: np.ndarray  # (3F,) uint32


def character_mesh(skeleton: Skeleton, rest_positions: np.ndarray) -> Mesh:
    """The mesh of a skeleton whose joints sit at `rest_positions` (J, 3) in the bind pose."""
    from t2mgpt.render.style import chain_colours

    colour = np.full((skeleton.num_joints, 3), 0.25)
    for chain, rgb in zip(skeleton.kinematic_chains, chain_colours(skeleton)):
        colour[list(chain[1:])] = _linear(rgb)
    parts = []
    for j, p in enumerate(skeleton.parents):
        if p < 0:
            continue
        head, tail = rest_positions[p], rest_positions[j]
        length = float(np.linalg.norm(tail - head))
        if length < 1e-4:
            continue
        radius = float(np.clip(0.2 * length, 0.02, 0.06)) * (1.6 if not skeleton.raw_offsets[j, 0] and
                                                              skeleton.raw_offsets[j, 1] > 0 else 1.0)
        parts.append((_tube(head, tail, radius, 0.75 * radius), p, colour[j]))
    feet = (skeleton.foot_left[1], skeleton.foot_right[1])  # their bone already ends at the toe
    for j, kids in enumerate(skeleton.children):  # the other leaves, head and hands, get a box
        p = skeleton.parents[j]
        if kids or p < 0 or j in feet:
            continue
        along = unit(rest_positions[j] - rest_positions[p])
        size = 0.09 if along[1] > 0.9 else 0.045
        parts.append((_tube(rest_positions[j], rest_positions[j] + along * 2 * size, size, size, sides=4),
                      j, colour[j]))
    return _merge(parts)


def _tube(a: np.ndarray, b: np.ndarray, r0: float, r1: float, sides: int = SIDES):
    """Triangles (n, 3, 3) of a closed tapered prism from a (radius r0) to b (radius r1)."""
    axis = unit(b - a)
    helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = unit(np.cross(axis, helper))
    v = np.cross(axis, u)
    angles = 2 * np.pi * (np.arange(sides) + 0.5) / sides
    ring = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v  # (s, 3)
    bottom, top = a + r0 * ring, b + r1 * ring
    tris = []
    for k in range(sides):
        n = (k + 1) % sides
        tris += [(bottom[k], bottom[n], top[n]), (bottom[k], top[n], top[k]),  # side, outward
                 (a, bottom[n], bottom[k]), (b, top[k], top[n])]  # caps
    return np.array(tris)


def _merge(parts) -> Mesh:
    tris = np.concatenate([t for t, _, _ in parts])  # (F, 3, 3)
    joint = np.concatenate([np.full(len(t), j) for t, j, _ in parts])
    colour = np.concatenate([np.tile(c, (len(t), 1)) for t, _, c in parts])
    normals = unit(np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]))  # flat shading
    count = len(tris) * 3
    joints = np.zeros((count, 4), np.uint16)
    joints[:, 0] = np.repeat(joint, 3)
    weights = np.zeros((count, 4), np.float32)
    weights[:, 0] = 1.0
    return Mesh(positions=tris.reshape(-1, 3).astype(np.float32), normals=np.repeat(normals, 3, 0).astype(np.float32),
                colors=np.concatenate([np.repeat(colour, 3, 0), np.ones((count, 1))], 1).astype(np.float32),
                joints=joints, weights=weights, indices=np.arange(count, dtype=np.uint32))


def _linear(rgb) -> np.ndarray:
    """sRGB 0-255 -> linear 0-1 (glTF colours are linear)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
