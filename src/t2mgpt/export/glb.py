"""GLB (binary glTF 2.0): a skinned procedural character with the motion as its animation.

For Blender, Unity, Unreal, Godot, three.js and web viewers. Written with `pygltflib`.

* Coordinates: glTF's own: metres, y up, the character faces +z (the same as ours), so no
  axis change. The scene holds the joint hierarchy (one node per joint, named after the rig
  preset, rest translation = the rigid skeleton's T-pose offset, no rest rotation), a skin over
  them, and one mesh node with the character (`_character.py`) bound to the skin.
* Animation "motion": one key per frame (times t / fps, LINEAR): the root's translation and
  every joint's local rotation (glTF quaternions are x, y, z, w). Forward kinematics of the
  animated nodes gives exactly the motion's joint positions (the .npy).
"""
from __future__ import annotations

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.export import Format, Option, register, rigid_of
from t2mgpt.export._rigs import RIG_OPTION, apply_rig


def encode(motion, rig: str = "smpl") -> bytes:
    import pygltflib as g

    rigid, names = apply_rig(rigid_of(motion), rig)
    sk, offsets = rigid.skeleton, rigid.offsets
    rest = _rest_positions(sk, offsets)
    from t2mgpt.export._character import character_mesh

    mesh = character_mesh(sk, rest)
    buf = _Buffer()
    ibm = np.tile(np.eye(4, dtype=np.float32), (sk.num_joints, 1, 1))
    ibm[:, :3, 3] = -rest  # bind pose: unrotated joints at their rest positions
    times = (np.arange(rigid.num_frames) / rigid.fps).astype(np.float32)
    accessors = [
        buf.add(mesh.positions, g.FLOAT, "VEC3", g.ARRAY_BUFFER, bounds=True),  # 0
        buf.add(mesh.normals, g.FLOAT, "VEC3", g.ARRAY_BUFFER),  # 1
        buf.add(mesh.colors, g.FLOAT, "VEC4", g.ARRAY_BUFFER),  # 2
        buf.add(mesh.joints, g.UNSIGNED_SHORT, "VEC4", g.ARRAY_BUFFER),  # 3
        buf.add(mesh.weights, g.FLOAT, "VEC4", g.ARRAY_BUFFER),  # 4
        buf.add(mesh.indices, g.UNSIGNED_INT, "SCALAR", g.ELEMENT_ARRAY_BUFFER),  # 5
        buf.add(ibm.transpose(0, 2, 1).reshape(-1, 16), g.FLOAT, "MAT4"),  # 6: column-major
        buf.add(times, g.FLOAT, "SCALAR", bounds=True),  # 7
        buf.add(rigid.root.astype(np.float32), g.FLOAT, "VEC3"),  # 8
    ]
    rotations = rigid.rotations[..., [1, 2, 3, 0]].astype(np.float32)  # (T, J, 4) x, y, z, w
    rot_accessors = [buf.add(np.ascontiguousarray(rotations[:, j]), g.FLOAT, "VEC4") for j in range(sk.num_joints)]

    mesh_node = sk.num_joints
    nodes = [g.Node(name=names[j], translation=[float(x) for x in offsets[j]],
                    children=list(sk.children[j]) or None) for j in range(sk.num_joints)]
    nodes.append(g.Node(name="character", mesh=0, skin=0))
    attributes = g.Attributes(POSITION=0, NORMAL=1, COLOR_0=2, JOINTS_0=3, WEIGHTS_0=4)
    samplers = [g.AnimationSampler(input=7, output=8, interpolation="LINEAR")]
    channels = [g.AnimationChannel(sampler=0, target=g.AnimationChannelTarget(node=0, path="translation"))]
    for j, acc in enumerate(rot_accessors):
        samplers.append(g.AnimationSampler(input=7, output=acc, interpolation="LINEAR"))
        channels.append(g.AnimationChannel(sampler=j + 1, target=g.AnimationChannelTarget(node=j, path="rotation")))
    gltf = g.GLTF2(
        asset=g.Asset(version="2.0", generator="t2mgpt"),
        scene=0, scenes=[g.Scene(name=str(getattr(motion, "text", "") or "motion")[:200], nodes=[0, mesh_node])],
        nodes=nodes,
        meshes=[g.Mesh(name="character", primitives=[g.Primitive(attributes=attributes, indices=5, material=0)])],
        materials=[g.Material(name="character", pbrMetallicRoughness=g.PbrMetallicRoughness(
            baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=0.0, roughnessFactor=0.8))],
        skins=[g.Skin(name="skeleton", joints=list(range(sk.num_joints)), skeleton=0, inverseBindMatrices=6)],
        animations=[g.Animation(name="motion", samplers=samplers, channels=channels)],
        accessors=buf.accessors, bufferViews=buf.views, buffers=[g.Buffer(byteLength=len(buf.data))],
    )
    gltf.set_binary_blob(bytes(buf.data))
    return b"".join(gltf.save_to_bytes())


def _rest_positions(skeleton, offsets: np.ndarray) -> np.ndarray:
    """Joint positions (J, 3) of the rest pose (root at the origin)."""
    pos = np.zeros((skeleton.num_joints, 3))
    for j in skeleton.preorder:
        p = skeleton.parents[j]
        if p >= 0:
            pos[j] = pos[p] + offsets[j]
    return pos


class _Buffer:
    """One binary buffer: each array gets its own 4-byte aligned buffer view and an accessor."""

    def __init__(self):
        self.data = bytearray()
        self.views, self.accessors = [], []

    def add(self, array: np.ndarray, component: int, kind: str, target: int | None = None,
            bounds: bool = False) -> int:
        import pygltflib as g

        array = np.ascontiguousarray(array)
        if not np.isfinite(array.astype(np.float64)).all():
            raise InputError("the motion holds NaN or infinite values; nothing was written")
        while len(self.data) % 4:
            self.data.append(0)
        self.views.append(g.BufferView(buffer=0, byteOffset=len(self.data), byteLength=array.nbytes, target=target))
        self.data += array.tobytes()
        flat = array.reshape(len(array), -1)
        extra = dict(min=flat.min(0).tolist(), max=flat.max(0).tolist()) if bounds else {}
        self.accessors.append(g.Accessor(bufferView=len(self.views) - 1, componentType=component,
                                         count=len(array), type=kind, **extra))
        return len(self.accessors) - 1


FORMAT = register(Format(
    name="glb", suffixes=(".glb",), media_type="model/gltf-binary",
    description="skinned character with the animation, for Blender, Unity, Unreal, Godot, the web (glTF 2.0)",
    encode=encode,
    options=(RIG_OPTION,),
))
