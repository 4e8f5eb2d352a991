"""Draw frames of a stick-figure motion with Pillow (supersampled, then box-downsampled)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from t2mgpt.motion.skeleton import Skeleton
from t2mgpt.render import style
from t2mgpt.render.camera import Camera, body_unit, plan_camera
from t2mgpt.render.style import RenderConfig

TILE = 0.5  # floor tile edge, in body units (metres for HumanML3D)
LIMB_WIDTH = 0.045  # limb thickness, body units
TRUNK_WIDTH = 0.06
HEAD_RADIUS = 0.1
FADE_START = 0.35  # the floor fades into the background from this fraction of its radius


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


class FramePainter:
    """Renders frame t of `joints` (T, J, 3; floor at y = 0) as an RGB PIL image.

    Everything that does not change between frames (background, title, and with a fixed
    camera the floor and the full root path) is drawn once.
    """

    def __init__(self, joints: np.ndarray, skeleton: Skeleton, cfg: RenderConfig, title: str | None):
        self.joints = joints.astype(np.float64)
        self.skeleton = skeleton
        self.cfg = cfg
        # Cap the canvas at 3072 pixels a side (memory of the floor ray-cast).
        self.k = k = max(1, min(cfg.supersample, 3072 // max(cfg.width, cfg.height)))
        self.size = (cfg.width * k, cfg.height * k)
        self.unit = body_unit(joints, skeleton)
        self.trunk_colour = style.LIMB_COLOURS[("center", "trunk")]
        self.bones = [  # (parent, child, colour, thickness in body units)
            (a, b, colour, TRUNK_WIDTH if colour == self.trunk_colour else LIMB_WIDTH)
            for chain, colour in zip(skeleton.kinematic_chains, style.chain_colours(skeleton))
            for a, b in zip(chain[:-1], chain[1:])
        ]
        self.head = style.head_joint(skeleton)

        base = min(cfg.width, cfg.height)
        self.small_font = style.font(max(9, round(0.028 * base)) * k)
        top = self._title_layout(title, base) if title else 0.035 * cfg.height * k
        bottom = cfg.height * k - (0.07 * cfg.height * k if cfg.timeline else 0.03 * cfg.height * k)
        cam, self.mode = plan_camera(
            joints, skeleton, (0, top / k, cfg.width, bottom / k), mode=cfg.camera,
            azimuth=cfg.azimuth, elevation=cfg.elevation, fps=cfg.fps,
        )
        self.camera: Camera = cam  # output-pixel camera (for callers and tests)
        self.cam = cam.scaled(k)  # supersampled drawing camera
        self.root_path = self.joints[:, 0] * np.array([1.0, 0.0, 1.0])  # (T, 3) on the floor

        self.title_bottom = top
        self.floor = self._floor_pixels() if cfg.floor else None
        self.static = Image.fromarray(self._background())
        if self.floor is not None:
            # Light squares (and the fade) never move on screen; dark ones are pasted per frame.
            self.static.paste(self.floor["light"], (0, self.floor["top"]))
            if self.mode == "fixed":
                self._paint_floor(self.static, 0)
        if self.mode == "fixed" and cfg.trajectory:
            self._path(ImageDraw.Draw(self.static), 0, len(joints), style.TRAIL_TODO)
        self._title(ImageDraw.Draw(self.static))

    # ---- static parts -------------------------------------------------------------------
    title_lines: list[str] = []

    def _title_layout(self, title: str, base: int) -> float:
        k = self.k
        self.title_font = style.font(max(10, round(0.042 * base)) * k)
        self.title_lines = style.wrap_text(
            title, self.title_font, 0.92 * self.size[0], self.cfg.max_title_lines
        )
        self.line_height = 1.25 * self.title_font.size
        return 0.03 * self.size[1] + len(self.title_lines) * self.line_height + 0.01 * self.size[1]

    def _title(self, draw: ImageDraw.ImageDraw) -> None:
        y = 0.03 * self.size[1]
        for line in self.title_lines:
            draw.text((self.size[0] / 2, y), line, fill=style.TITLE, font=self.title_font, anchor="ma")
            y += self.line_height

    def _background(self) -> np.ndarray:
        w, h = self.size
        t = np.linspace(0.0, 1.0, h)[:, None]
        top, bottom = np.array(style.BACKGROUND_TOP), np.array(style.BACKGROUND_BOTTOM)
        column = (top + (bottom - top) * t).round().astype(np.uint8)  # (h, 3)
        return np.ascontiguousarray(np.broadcast_to(column[:, None], (h, w, 3)))

    # ---- floor and trajectory -----------------------------------------------------------
    def _floor_pixels(self) -> dict | None:
        """Ray-cast every canvas pixel onto the floor once.

        The camera only translates between frames (its orientation and height are fixed), so
        the floor point seen by a pixel is the eye position plus a per-pixel constant, and a
        fade centred on the camera target is constant in image space.
        """
        w, h = self.size
        cam = self.cam
        u = ((np.arange(w) + 0.5 - cam.center[0]) / cam.focal).astype(np.float32)[None, :]  # (1, w)
        v = ((cam.center[1] - np.arange(h) - 0.5) / cam.focal).astype(np.float32)[:, None]  # (h, 1)
        right, up, fwd = cam.basis[0].astype(np.float32)
        ray = lambda i: u * right[i] + v * up[i] + fwd[i]  # (h, w) world direction component
        eye = cam.position[0]
        if self.mode == "fixed":
            lo, hi = self.root_path.min(0), self.root_path.max(0)
            centre = 0.5 * (lo + hi)
            radius = 0.5 * float(np.hypot(*(hi - lo)[[0, 2]])) + 1.6 * self.unit
        else:
            centre, radius = cam.target[0] * np.array([1.0, 0.0, 1.0]), 2.6 * self.unit
        ray_y = ray(1)
        with np.errstate(all="ignore"):  # rays above the horizon never meet the floor: inf
            s = np.where(ray_y < -1e-9, np.float32(-eye[1]) / ray_y, np.float32(np.inf))  # to y = 0
            off_x, off_z = s * ray(0), s * ray(2)  # (h, w) floor point minus eye
            dist = np.hypot(off_x + np.float32(eye[0] - centre[0]), off_z + np.float32(eye[2] - centre[2]))
        dist[: int(self.title_bottom)] = np.inf  # never paint over the title
        rows = np.flatnonzero((dist < radius).any(axis=1))
        if rows.size == 0:
            return None
        band = slice(rows[0], rows[-1] + 1)  # rows holding floor: painted as one block
        fade = np.clip((dist[band] / radius - FADE_START) / (1 - FADE_START), 0, 1)[..., None] ** 1.5
        bg = self._background()[band].astype(np.float32)
        mix = lambda c: (np.array(c, np.float32) + (bg - np.array(c, np.float32)) * fade).round().astype(np.uint8)
        outside = ~np.isfinite(dist[band])
        off_x, off_z = off_x[band], off_z[band]
        off_x[outside] = 0.0
        off_z[outside] = 0.0
        light, dark = Image.fromarray(mix(style.FLOOR_LIGHT)), Image.fromarray(mix(style.FLOOR_DARK))
        return dict(top=int(rows[0]), off_x=off_x, off_z=off_z, light=light, dark=dark)

    def _paint_floor(self, canvas: Image.Image, t: int) -> None:
        """Checkerboard (TILE-sized squares, world aligned) pasted into the canvas."""
        f, inv_tile = self.floor, np.float32(1.0 / (TILE * self.unit))
        eye = self.cam.position[t]
        cell = np.floor((f["off_x"] + np.float32(eye[0])) * inv_tile)
        cell += np.floor((f["off_z"] + np.float32(eye[2])) * inv_tile)
        mask = Image.fromarray(((cell.astype(np.int32) & 1) * 255).astype(np.uint8))
        canvas.paste(f["dark"], (0, f["top"]), mask)  # over the light squares of `static`

    def _path(self, draw: ImageDraw.ImageDraw, t: int, upto: int, colour) -> None:
        width = max(1, round(0.005 * self.size[1]))
        for line in self.cam.polylines(self.root_path[:upto], t, near=0.3 * self.unit):
            if len(line) >= 2:
                draw.line(line.ravel().tolist(), fill=colour, width=width)

    def _shadow(self, draw: ImageDraw.ImageDraw, t: int) -> None:
        angles = np.linspace(0, 2 * np.pi, 28, endpoint=False)
        ring = np.stack([np.cos(angles), np.zeros_like(angles), np.sin(angles)], axis=1)
        centre = self.joints[t].mean(0) * np.array([1.0, 0.0, 1.0])
        for radius, alpha in ((0.42, 40), (0.3, 45), (0.18, 50)):
            px, _ = self.cam.project(centre + radius * self.unit * ring, t)
            draw.polygon(px.ravel().tolist(), fill=(*style.SHADOW, alpha))

    # ---- the person ---------------------------------------------------------------------
    def _skeleton(self, draw: ImageDraw.ImageDraw, t: int) -> None:
        """Bones as thick round-capped lines with a white dot at each child joint, and a disc
        for the head; drawn far to near (painter's algorithm), far ones slightly faded."""
        px, depth = self.cam.project(self.joints[t], t)  # (J, 2), (J,)
        far = (depth - depth.min()) / max(np.ptp(depth), 1e-6)  # 0 nearest .. 1 farthest
        scale = self.cam.focal * self.unit / np.maximum(depth, 1e-6)  # pixels per body unit
        order = [(0.5 * (depth[a] + depth[b]), i) for i, (a, b, _, _) in enumerate(self.bones)]
        order.append((depth[self.head], -1))
        for _, i in sorted(order, reverse=True):
            if i < 0:
                r = HEAD_RADIUS * scale[self.head]
                x, y = px[self.head]
                draw.ellipse((x - r, y - r, x + r, y + r), fill=style.JOINT_FILL,
                             outline=self.trunk_colour, width=max(1, round(0.18 * r)))
                continue
            a, b, colour, thickness = self.bones[i]
            colour = _mix(colour, style.BACKGROUND_TOP, 0.35 * 0.5 * (far[a] + far[b]))
            w = max(thickness * 0.5 * (scale[a] + scale[b]), 1.5 * self.k)
            (xa, ya), (xb, yb) = px[a], px[b]
            draw.line((xa, ya, xb, yb), fill=colour, width=round(w))
            r = 0.5 * w
            for x, y in ((xa, ya), (xb, yb)):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
            r = 0.3 * w
            draw.ellipse((xb - r, yb - r, xb + r, yb + r), fill=style.JOINT_FILL)

    def _timeline(self, draw: ImageDraw.ImageDraw, t: int) -> None:
        w, h = self.size
        T = len(self.joints)
        y = h - 0.035 * h
        x0, x1 = 0.06 * w, 0.80 * w
        thick = max(2, round(0.006 * h))
        draw.line((x0, y, x1, y), fill=style.FLOOR_DARK, width=thick)
        xt = x0 + (x1 - x0) * (t / max(T - 1, 1))
        draw.line((x0, y, xt, y), fill=style.TRAIL_DONE, width=thick)
        draw.text((0.94 * w, y), f"{t / self.cfg.fps:4.1f} s", fill=style.MUTED,
                  font=self.small_font, anchor="rm")

    # ---- public -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.joints)

    def __call__(self, t: int) -> Image.Image:
        img = self.static.copy()
        if self.mode == "follow" and self.floor is not None:
            self._paint_floor(img, t)
        draw = ImageDraw.Draw(img)
        if self.cfg.trajectory:
            if self.mode == "follow":
                self._path(draw, t, len(self.joints), style.TRAIL_TODO)
            self._path(draw, t, t + 1, style.TRAIL_DONE)
        if self.cfg.floor:
            self._shadow(ImageDraw.Draw(img, "RGBA"), t)  # translucent
        self._skeleton(draw, t)
        if self.cfg.timeline:
            self._timeline(draw, t)
        return img.reduce(self.k) if self.k > 1 else img
