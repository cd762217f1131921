"""Animating a portrait photo: the photo's own face, moved by a track's 52 blendshapes.

:func:`.photo.load_portrait` reads the photo and crops it around its one face;
:class:`PortraitRenderer` then draws frames as :class:`.render.HeadRenderer` does, so
:func:`.render.render_video` writes them.

The method: FaceLandmarker's first 468 landmarks are the vertices of the canonical face mesh that
the avatar head (:mod:`.head`) is built on, so each ARKit shape's displacement field on the head is
carried over to the photo through the affine map that best fits the canonical mesh onto the photo's
landmarks (the eye shapes scaled so that a blink closes the photo's own eye opening). The head
rotation turns the canonical mesh in 3D about a point inside the head; its projected motion is
carried over the same way. Each frame is a piecewise-affine warp: the mesh's triangles (the eye and
mouth openings included), and a band joining the face's outline to a fixed ring of anchors around
it, so the background stays put and the warp is continuous. Where the lips part, a mouth interior
is painted: a dark red-brown gradient with the upper teeth under the upper lip (their colour taken
from the photo when it shows teeth). A photo whose lips are parted is closed at rest (the inner
lips are brought together by the warp), so lip closures (p, b, m) work on it too and every opening
is the painted one; weights of 0 then show the photo with its lips closed, otherwise unchanged.
Blinks warp the upper lid's skin down over the eye. Gaze is not shown (the photo's irises stay).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .arkit import ARKIT_BLENDSHAPES
from .head import Head, head_mesh_path, load_head
from .neutral import Neutralised, neutralise
from .photo import MIN_FACE_PX, MIN_IMAGE_PX, Portrait, _cv2, example_portrait_path, load_portrait
from .render import _HEAD_CENTRE_CM, _rotation

__all__ = ["Portrait", "PortraitRenderer", "load_portrait", "example_portrait_path",
           "MIN_IMAGE_PX", "MIN_FACE_PX"]

_RING_SCALE = 1.5  # anchors sit at this multiple of the face outline's distance from its centre
_CLOSE_LIPS_ABOVE = 0.025  # photos with lips parted more than this share of the face's height
# Inner-lip contour, corner 78 to corner 308: the upper lip, then the lower one paired with it.
_LIP_CORNERS = (78, 308)
_UPPER_INNER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
_LOWER_INNER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
_EYE_SHAPES = {side: [i for i, n in enumerate(ARKIT_BLENDSHAPES) if n.startswith("eye") and n.endswith(side)]
               for side in ("Left", "Right")}
# Eyelid margins, corner to corner (MediaPipe's eye contours): the upper, then the lower one.
_LIDS = {"Left": ((263, 466, 388, 387, 386, 385, 384, 398, 362), (263, 249, 390, 373, 374, 380, 381, 382, 362)),
         "Right": ((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133))}
# Upper and lower margins that meet when an opening closes (inner lips, eyelids), pair by pair.
_MEETING = np.array([_UPPER_INNER + sum((lids[0][1:-1] for lids in _LIDS.values()), ()),
                     _LOWER_INNER + sum((lids[1][1:-1] for lids in _LIDS.values()), ())])
# On a photo, FaceLandmarker reads the brows lowered only when the whole brow comes down (the head's
# browDown drops mostly the inner end): there, browDown also lowers the outer brow by as much as
# browOuterUp raises it, and the inner one by half of what browInnerUp raises it. And it pushes the
# eye cover fold down over the lid (FACS's AU4), taking back as much of eyeWide's lid raise: on a
# photo a lid raised into a lowered brow squeezes the skin between them to a line, and anger's
# AU4+5 then read as brows that never came down (FaceLandmarker's browDown on the astronaut in
# anger: 0.09; 0.44 with this and the brow's shadow below).
_PHOTO_MIX = np.eye(len(ARKIT_BLENDSHAPES))
for _side in ("Left", "Right"):
    _PHOTO_MIX[ARKIT_BLENDSHAPES.index(f"browDown{_side}"), ARKIT_BLENDSHAPES.index(f"browOuterUp{_side}")] = -1.0
    _PHOTO_MIX[ARKIT_BLENDSHAPES.index(f"browDown{_side}"), ARKIT_BLENDSHAPES.index("browInnerUp")] = -0.25
    _PHOTO_MIX[ARKIT_BLENDSHAPES.index(f"browDown{_side}"), ARKIT_BLENDSHAPES.index(f"eyeWide{_side}")] = -1.0
# A lowered brow (AU4) bulges and shades the upper lid under it; on the photo that shadow is what
# shows the brow has come down (a thin brow squeezed toward the lid reads as unmoved): the skin from
# the brow's lower edge to the lid margin is darkened by up to this share at browDown 1.
_BROW_SHADE = 0.6
_LOWER_BROW = {"Left": (276, 283, 282, 295, 285), "Right": (46, 53, 52, 65, 55)}  # outer to inner end
_BROW_DOWN = {side: ARKIT_BLENDSHAPES.index(f"browDown{side}") for side in ("Left", "Right")}
_MOUTH_DARK = np.array([62.0, 24.0, 28.0])  # a cavity in shadow, not a black hole
_MOUTH_TONGUE = np.array([122.0, 50.0, 54.0])
_TEETH = np.array([226.0, 221.0, 208.0])
_SMILE = [ARKIT_BLENDSHAPES.index(f"mouthSmile{s}") for s in ("Left", "Right")]
_UPPER_UP = [ARKIT_BLENDSHAPES.index(f"mouthUpperUp{s}") for s in ("Left", "Right")]
_LUMA = np.array([0.299, 0.587, 0.114])  # Rec. 601 weights: the grey of a painted colour
# Median chroma (max - min channel) of skin in an ordinary colour photo: the astronaut's is 59,
# Grace Hopper's 109, a black-and-white photo's 0. At or above it the mouth is painted in colour.
_SKIN_CHROMA = 40.0


def _boundary_loop(triangles: np.ndarray) -> np.ndarray:
    """The vertices on the edge of a mesh with one boundary, in order around it."""
    edges = Counter(frozenset(e) for t in triangles.tolist() for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])))
    nxt: dict[int, list[int]] = {}
    for e, n in edges.items():
        if n == 1:
            a, b = tuple(e)
            nxt.setdefault(a, []).append(b)
            nxt.setdefault(b, []).append(a)
    loop = [min(nxt)]
    while len(loop) < len(nxt):
        loop.append(next(v for v in nxt[loop[-1]] if len(loop) < 2 or v != loop[-2]))
    return np.array(loop)


def _doubled_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Twice each triangle's signed area."""
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


class PortraitRenderer:
    """Draws frames of a portrait moved by blendshape weights: ``frame(weights, head_rotation, gaze)``
    gives (size, size, 3) uint8, like :class:`.render.HeadRenderer`."""

    def __init__(self, portrait: Portrait, head: Head | None = None, *, neutral: bool = True) -> None:
        cv2 = _cv2()
        self.portrait = portrait
        self.size = size = portrait.size
        self.head = head = head or load_head()
        src = portrait.landmarks[:468, :2].astype(np.float64)
        canon = head.vertices.astype(np.float64)
        # the affine map from the canonical mesh's (x, y) in cm to the photo's pixels
        fit, *_ = np.linalg.lstsq(np.c_[canon[:, :2], np.ones(len(canon))], src, rcond=None)
        self._to_px = fit[:2].T  # 2x2: a displacement in cm -> pixels
        self._down = self._to_px @ [0.0, -1.0] / np.linalg.norm(self._to_px @ [0.0, -1.0])  # the face's down
        disp = np.einsum("ij,svj->svi", self._to_px, head.targets[:, :, :2].astype(np.float64))
        self._eye_gap = {}
        for side, (upper, lower) in _LIDS.items():  # blinks close the photo's own eye opening
            canon_gap = np.linalg.norm(self._to_px @ (canon[upper[4], :2] - canon[lower[4], :2]))
            self._eye_gap[side] = float(np.linalg.norm(src[upper[4]] - src[lower[4]]))
            disp[_EYE_SHAPES[side]] *= np.clip(self._eye_gap[side] / max(canon_gap, 1e-6), 0.25, 2.0)
            disp[np.ix_(_EYE_SHAPES[side], [upper[0], upper[-1]])] = 0.0  # the corners stay
        self._disp = disp.reshape(len(ARKIT_BLENDSHAPES), -1)
        self._face_height = float(np.linalg.norm(src[152] - src[10]))
        self._colourful = self._colourfulness(src)
        self._teeth = _TEETH
        if self._lips_parted(src):
            self._teeth = self._teeth_colour(src)
        self._rest = src + self._closing(src)
        self._src_landmarks = src
        self._lash = self._lash_colour(src)

        # triangles: the band to the anchors, the eye and mouth openings, then the face on top
        everything = np.load(head_mesh_path(), allow_pickle=False)["triangles"].astype(np.int64)
        skin = {tuple(t) for t in head.triangles.tolist()}
        openings = np.array([t for t in everything.tolist() if tuple(t) not in skin])
        outline = _boundary_loop(everything)
        centre = src[outline].mean(axis=0)
        ring = np.clip(centre + _RING_SCALE * (src[outline] - centre), 0, size - 1)
        n, k = len(src), len(outline)
        ring_i = n + np.arange(k)
        band = [(outline[i], outline[(i + 1) % k], ring_i[(i + 1) % k]) for i in range(k)]
        band += [(outline[i], ring_i[(i + 1) % k], ring_i[i]) for i in range(k)]
        # triangle 0 is an identity: a triangle around the whole frame that does not move
        self._fixed = np.vstack([ring, [[-8.0 * size, -8.0 * size], [10.0 * size, -8.0 * size],
                                        [size / 2, 10.0 * size]]])
        self._triangles = np.vstack([[[n + k, n + k + 1, n + k + 2]], band, openings, head.triangles]).astype(np.int64)

        # the pixels the warp may move: inside the anchor ring
        x0, y0 = np.floor(ring.min(axis=0)).astype(int)
        x1, y1 = np.ceil(ring.max(axis=0)).astype(int) + 1
        self._box = (slice(y0, y1), slice(x0, x1))
        self._origin = np.array([x0, y0], dtype=np.float64)
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(inside, [np.round((ring - self._origin) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        self._inside = np.flatnonzero(cv2.dilate(inside, np.ones((3, 3), np.uint8)))
        gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        self._grid = (gx, gy)
        self._px, self._py = gx.ravel()[self._inside], gy.ravel()[self._inside]
        self._tid = np.zeros((y1 - y0, x1 - x0), np.int32)
        # every triangle wound as the face mesh is in the photo, so a flipped one shows as a fold
        area = _doubled_areas(np.vstack([src, self._fixed]), self._triangles)
        self._winding = np.sign(np.median(area[-len(head.triangles):]))
        flip = area * self._winding < 0
        self._triangles[flip] = self._triangles[flip][:, [0, 2, 1]]
        sa, sb, sc = (np.vstack([src, self._fixed])[self._triangles[:, j]] for j in range(3))
        self._src_edges = np.concatenate([sa, sb - sa, sc - sa], axis=1)  # each triangle in the photo
        #: the photo's own expression as FaceLandmarker read it and the counter-weights that undo it
        self.neutralised: Neutralised | None = None
        if neutral:
            self._neutralise()

    def _neutralise(self) -> None:
        """Take the photo's own expression away (:mod:`.neutral`): the rest pose becomes the photo's
        face with its smile, frown and brow raise or lowering undone, its lips closed."""
        from .landmarks import FaceReader

        src = self._src_landmarks

        def render_rest(counter: np.ndarray) -> np.ndarray:
            moved = src - (counter @ self._disp).reshape(-1, 2)
            self._rest = moved + self._closing(moved)
            return self.frame(np.zeros(len(ARKIT_BLENDSHAPES)))

        with FaceReader() as reader:
            own = reader.blendshapes([self.portrait.image])[0]
            self.neutralised = neutralise(render_rest, own, lambda f: reader.blendshapes([f])[0])
        render_rest(self.neutralised.counter)

    # -- the rest pose ---------------------------------------------------------------------------
    def _closing(self, src: np.ndarray) -> np.ndarray:
        """Displacements (468, 2) that bring parted lips together (zero for a closed mouth).

        Each inner-lip pair meets at its midpoint; the rest of the face follows by distance-weighted
        interpolation with a Gaussian fall-off of a third of the mouth's width."""
        upper, lower = np.array(_UPPER_INNER), np.array(_LOWER_INNER)
        if not self._lips_parted(src):
            return np.zeros_like(src)
        mid = (src[upper] + src[lower]) / 2
        keys = np.concatenate([upper, lower, _LIP_CORNERS])
        moves = np.concatenate([mid - src[upper], mid - src[lower], np.zeros((2, 2))])
        d = np.linalg.norm(src[:, None, :] - src[keys][None, :, :], axis=2)  # (468, 20)
        weight = 1.0 / (d ** 2 + 1e-6) ** 2
        shepard = (weight[:, :, None] * moves[None]).sum(axis=1) / weight.sum(axis=1, keepdims=True)
        sigma = np.linalg.norm(src[_LIP_CORNERS[1]] - src[_LIP_CORNERS[0]]) / 3
        reach = np.exp(-(d.min(axis=1) / sigma) ** 2)
        out = shepard * np.where(reach < 0.01, 0.0, reach)[:, None]  # beyond, the face stays exactly put
        out[keys] = moves
        return out

    def _lips_parted(self, points: np.ndarray) -> bool:
        gaps = np.linalg.norm(points[list(_LOWER_INNER)] - points[list(_UPPER_INNER)], axis=1)
        return bool(np.median(gaps[3:6]) > _CLOSE_LIPS_ABOVE * self._face_height)

    def _teeth_colour(self, src: np.ndarray) -> np.ndarray:
        """The photo's teeth: the brighter part of what shows between its parted lips."""
        cv2 = _cv2()
        mask = np.zeros(self.portrait.image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(src[self._lip_loop()]).astype(np.int32)], 1)
        pixels = self.portrait.image[mask > 0].astype(np.float64)
        if len(pixels) < 20:
            return _TEETH
        bright = pixels[pixels.sum(axis=1) >= np.percentile(pixels.sum(axis=1), 60)]
        colour = np.median(bright, axis=0)
        return colour if colour.mean() > 120 else _TEETH  # a dark opening shows no teeth

    def _colourfulness(self, src: np.ndarray) -> float:
        """0 for a black-and-white photo, 1 for a colour one: the painted mouth takes the photo's
        colour (a red cavity in a grey face reads as paint), from the skin's median chroma."""
        cv2 = _cv2()
        mask = np.zeros(self.portrait.image.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(src).astype(np.int32)), 1)
        pixels = self.portrait.image[mask > 0].astype(np.float64)
        chroma = pixels.max(axis=1) - pixels.min(axis=1)
        return float(np.clip(np.median(chroma) / _SKIN_CHROMA, 0.0, 1.0)) if len(pixels) else 1.0

    def _lash_colour(self, src: np.ndarray) -> np.ndarray:
        """The photo's lash line: the darker part of a band along both upper lid margins."""
        cv2 = _cv2()
        mask = np.zeros(self.portrait.image.shape[:2], np.uint8)
        for upper, _ in _LIDS.values():
            width = max(2, round(0.02 * self._face_height))
            cv2.polylines(mask, [np.round(src[list(upper)]).astype(np.int32)], False, 1, width)
        pixels = self.portrait.image[mask > 0].astype(np.float64)
        return np.median(pixels[pixels.sum(axis=1) <= np.percentile(pixels.sum(axis=1), 25)], axis=0)

    @staticmethod
    def _lip_loop() -> list[int]:
        return [_LIP_CORNERS[0], *_UPPER_INNER, _LIP_CORNERS[1], *reversed(_LOWER_INNER)]

    # -- frames ----------------------------------------------------------------------------------
    def targets(self, weights: np.ndarray, head_rotation=(0.0, 0.0, 0.0)) -> np.ndarray:
        """Where the 468 landmarks go (pixels) for blendshape weights (52,) and a head rotation."""
        w = np.asarray(weights, dtype=np.float64) @ _PHOTO_MIX
        out = self._rest + (w @ self._disp).reshape(-1, 2)
        # an upper margin that would pass its lower one (a blink, lips pressed) stops where they meet
        upper, lower = _MEETING
        past = (out[lower] - out[upper]) @ self._down < 0
        if past.any():
            meet = (out[upper[past]] + out[lower[past]]) / 2
            out[upper[past]] = out[lower[past]] = meet
        if np.any(np.asarray(head_rotation) != 0):
            v = self.head.deformed(w).astype(np.float64)
            turned = (v - _HEAD_CENTRE_CM) @ _rotation(*head_rotation).T + _HEAD_CENTRE_CM
            out += (turned - v)[:, :2] @ self._to_px.T
        return out

    def frame(self, weights: np.ndarray, head_rotation=(0.0, 0.0, 0.0), gaze=(0.0, 0.0)) -> np.ndarray:
        """One frame (size, size, 3) uint8; ``gaze`` is accepted and not shown (the photo's eyes stay)."""
        cv2 = _cv2()
        target = self.targets(weights, head_rotation)
        dst = np.vstack([target, self._fixed])
        tris = self._triangles
        # which triangle each pixel of the box falls in, drawn in order (later ones on top)
        tid = self._tid
        tid.fill(0)
        det = _doubled_areas(dst, tris)
        corners = np.round((dst[tris] - self._origin) * 16).astype(np.int32)
        for i in np.flatnonzero(det[1:] * self._winding > 0.5) + 1:  # closed openings, folds: not drawn
            cv2.fillConvexPoly(tid, corners[i], int(i), cv2.LINE_8, 4)
        # barycentric coordinates in the target triangle give the photo's point; a pixel on a triangle's
        # edge may lie a little outside it, and where that would reach far in the photo (a thin
        # triangle stretched over a wide one: an eye nearly shut) the point is clamped to the triangle
        a, b, c = dst[tris[:, 0]], dst[tris[:, 1]], dst[tris[:, 2]]
        e1, e2 = b - a, c - a
        det = np.where(np.abs(det) < 1e-9, 1e-9, det)
        table = np.concatenate([a, np.stack([e2[:, 1], -e2[:, 0], -e1[:, 1], e1[:, 0]], 1) / det[:, None],
                                self._src_edges], axis=1).astype(np.float32)
        ax, ay, i00, i01, i10, i11, sx, sy, bx, by, cx, cy = table[tid.ravel()[self._inside]].T
        rx, ry = self._px - ax, self._py - ay
        lb, lc = i00 * rx + i01 * ry, i10 * rx + i11 * ry
        qx, qy = sx + lb * bx + lc * cx, sy + lb * by + lc * cy
        lb, lc = np.clip(lb, 0.0, 1.0), np.clip(lc, 0.0, 1.0)
        total = np.maximum(lb + lc, 1.0)
        lb /= total
        lc /= total
        cx, cy = sx + lb * bx + lc * cx, sy + lb * by + lc * cy
        far = np.abs(qx - cx) + np.abs(qy - cy) > 4.0
        map_x, map_y = self._grid[0].copy(), self._grid[1].copy()
        map_x.ravel()[self._inside] = np.where(far, cx, qx)
        map_y.ravel()[self._inside] = np.where(far, cy, qy)
        image = self.portrait.image.copy()
        image[self._box] = cv2.remap(self.portrait.image, map_x, map_y, cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
        self._paint_mouth(image, target, weights)
        self._shade_brows(image, target, weights)
        self._draw_lashes(image, target)
        return image

    @staticmethod
    def _teeth_shown(weights: np.ndarray) -> float:
        """The share of the upper teeth's height that shows under the upper lip: none with the jaw
        alone (the relaxed lip covers them), all of it in a smile or a raised upper lip (a band of
        teeth in every open mouth reads as a smile to fer)."""
        lift = max(np.mean(weights[_SMILE]), np.mean(weights[_UPPER_UP]))
        return float(np.clip(lift, 0.0, 1.0))

    def _shade_brows(self, image: np.ndarray, target: np.ndarray, weights: np.ndarray) -> None:
        """The lowered brow's shadow over each upper lid, as deep as browDown is strong: deepest
        under the brow, fading to nothing at the lid margin, as a brow ridge's shadow falls (an
        even fill reads as a painted band)."""
        cv2 = _cv2()
        for side, (upper, _) in _LIDS.items():
            strength = _BROW_SHADE * float(np.clip(weights[_BROW_DOWN[side]], 0.0, 1.0))
            if strength < 0.01:
                continue
            brow, lid = target[list(_LOWER_BROW[side])], target[list(reversed(upper))]
            area = np.vstack([brow, lid])
            blur = 2 * round(0.015 * self._face_height) + 1  # a soft edge, about 3% of the face
            x0, y0 = np.maximum(np.floor(area.min(axis=0)).astype(int) - blur, 0)
            x1, y1 = np.minimum(np.ceil(area.max(axis=0)).astype(int) + blur + 1, self.size)
            if x1 <= x0 or y1 <= y0:
                continue
            mask = np.zeros((y1 - y0, x1 - x0), np.float32)
            cv2.fillPoly(mask, [np.round((area - [x0, y0]) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, 4)
            # the share of the way from the brow's edge to the lid margin, per pixel
            to_brow, to_lid = (_distance_to(line - [x0, y0], mask.shape) for line in (brow, lid))
            fall = np.clip(to_lid / np.maximum(to_brow + to_lid, 1e-6), 0.0, 1.0)
            shade = 1.0 - strength * cv2.GaussianBlur(mask * fall, (blur, blur), 0)
            region = image[y0:y1, x0:x1].astype(np.float32) * shade[..., None]
            image[y0:y1, x0:x1] = np.clip(region, 0, 255).astype(np.uint8)

    def _draw_lashes(self, image: np.ndarray, target: np.ndarray) -> None:
        """A smooth lash line along each upper lid that has come down most of the way."""
        cv2 = _cv2()
        for side, (upper, lower) in _LIDS.items():
            closed = 1.0 - float((target[lower[4]] - target[upper[4]]) @ self._down) / max(self._eye_gap[side], 1e-6)
            strength = np.clip((closed - 0.6) / 0.3, 0.0, 1.0) * 0.75
            if strength <= 0:
                continue
            line = target[list(upper[1:-1])]  # corner to corner would hook up at the ends
            x0, y0 = np.maximum(np.floor(line.min(axis=0)).astype(int) - 4, 0)
            x1, y1 = np.minimum(np.ceil(line.max(axis=0)).astype(int) + 5, self.size)
            if x1 <= x0 or y1 <= y0:
                continue
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            width = max(1, round(0.008 * self._face_height))
            cv2.polylines(mask, [np.round((line - [x0, y0]) * 16).astype(np.int32)], False, 255, width, cv2.LINE_AA, 4)
            alpha = strength * mask.astype(np.float32)[..., None] / 255.0
            region = image[y0:y1, x0:x1].astype(np.float32)
            image[y0:y1, x0:x1] = np.clip(region + alpha * (self._lash - region), 0, 255).astype(np.uint8)

    def _paint_mouth(self, image: np.ndarray, target: np.ndarray, weights: np.ndarray) -> None:
        """A mouth interior inside the target's inner-lip contour, where the lips part."""
        cv2 = _cv2()
        left, right = target[_LIP_CORNERS[0]], target[_LIP_CORNERS[1]]
        width = float(np.linalg.norm(right - left))
        along = (right - left) / max(width, 1e-6)
        down = np.array([-along[1], along[0]])  # the image's y points down
        upper = target[[_LIP_CORNERS[0], *_UPPER_INNER, _LIP_CORNERS[1]]]
        lower = target[[_LIP_CORNERS[0], *_LOWER_INNER, _LIP_CORNERS[1]]]
        if np.median(((lower - upper) @ down)[3:8]) < 0.8:
            return
        loop = target[self._lip_loop()]
        x0, y0 = np.maximum(np.floor(loop.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(loop.max(axis=0)).astype(int) + 2, self.size)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round((loop - [x0, y0]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        alpha = mask.astype(np.float32)[..., None] / 255.0
        # each pixel in the mouth's frame: u along the lips from the left corner, v down from the line
        gy, gx = np.mgrid[y0:y1, x0:x1]
        rel = np.stack([gx - left[0], gy - left[1]], axis=-1)
        u, v = rel @ along, rel @ down
        top = np.interp(u, (upper - left) @ along, (upper - left) @ down)
        bottom = np.interp(u, (lower - left) @ along, (lower - left) @ down)
        gap = np.maximum(bottom - top, 1e-3)
        depth = np.clip((v - top) / gap, 0.0, 1.0)
        centred = np.clip(1.0 - ((u - width / 2) / (0.5 * width)) ** 4, 0.0, 1.0)  # 1 mid-mouth, 0 at the corners
        shade = (0.6 + 0.4 * centred)[..., None]
        tongue = (np.clip((depth - 0.55) / 0.45, 0, 1) ** 2)[..., None]
        colour = (_MOUTH_DARK + tongue * (_MOUTH_TONGUE - _MOUTH_DARK)) * shade
        teeth_h = (np.minimum(0.45 * gap, 0.12 * width) * self._teeth_shown(weights)
                   * np.clip(1.0 - ((u - width / 2) / (0.38 * width)) ** 4, 0, 1))
        below_lip = v - top
        teeth = ((below_lip < teeth_h) & (teeth_h > 0.5))[..., None]
        teeth_shade = (0.78 + 0.22 * np.clip(1.0 - below_lip / np.maximum(teeth_h, 1e-3), 0, 1))[..., None]
        colour = np.where(teeth, self._teeth * teeth_shade * (0.8 + 0.2 * centred[..., None]), colour)
        grey = colour @ _LUMA
        colour = grey[..., None] + self._colourful * (colour - grey[..., None])
        region = image[y0:y1, x0:x1].astype(np.float32)
        image[y0:y1, x0:x1] = np.clip(region + alpha * (colour - region), 0, 255).astype(np.uint8)


def _distance_to(line: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Each pixel's distance (px) to the polyline ``line`` (k, 2) in an image of ``shape``."""
    cv2 = _cv2()
    canvas = np.full(shape, 255, np.uint8)
    cv2.polylines(canvas, [np.round(line).astype(np.int32)], False, 0, 1, cv2.LINE_8)
    return cv2.distanceTransform(canvas, cv2.DIST_L2, 3)
