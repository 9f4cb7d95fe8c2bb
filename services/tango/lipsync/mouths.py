"""Lip sync from the speaker's own mouths: plan which reference mouth each output frame shows, then draw it.

`plan_mouths` turns the target speech into per-frame targets (the speaker mouth model's lip shape,
visemes of the recognised phones, or — source "both" — the lip shape of the speaker's phone model, which
hears the audio and the phones), searches the mouth bank (`mouth_search`) and records, per output frame,
the chosen reference frame or why the frame is left as it is. The face of a generated transition frame
(state -1) is the linear blend of the faces of the real frames around its window — the same motion the
interpolator draws — so transitions speak too; the reasons to leave a frame:
- `transition`: a generated frame at the very start or end of the output (a real face on one side only);
- `no_face`: the frame shown (or a side of its window) has no meshed face (turned away, occluded, small);
- `pose_mismatch` (when drawing): no mouth of a head turned within `CompositeConfig.max_pose_deg` fitted;
- `composite_failed` (when drawing): the face is too small or the alignment failed;
At drawing time a generated frame's pixels exist, and its face is not always where the blend puts it: the
interpolator moves the head along a curved path (5-8 px off the straight blend mid-window on the 22 s demo), so
a mouth pasted on the blend slipped against the drawn face. `GeneratedFaces` meshes the generated frame itself
(MediaPipe face mesh, as perception does, on a crop around the blended face) and moves the blended face onto the
meshed rigid points (eye corners, nose) by their 3-D similarity; the blend stays where no face is meshed or the
mesh lies implausibly far from it (`max_offset` inter-ocular distances) or within its own noise of it
(`min_offset`). Real frames keep their own mesh (drawn bit-identically to before).
`MouthCompositor` is the renderer's finisher: it fetches the chosen reference frames in sorted chunks
through the render's frame source and composites their mouths (`composite`; `draw_planned`: the lips warped part
of the way to the plan's target lips), counting what it changed; `evaluate` draws its outputs with it too.
Over the first `crossfade` frames of each new run of reference frames it also composites the previous
run's continuation and blends the two inside the mouth (`crossfade`), so that the mouth does not pop.
"""
from __future__ import annotations

import dataclasses
import time
from collections import Counter

import cv2
import numpy as np

from tango.lipsync.bank import SpeakerMouths, VisemeFn
from tango.lipsync.composite import CompositeConfig, composite_mouth, lip_shift, turned_alike
from tango.lipsync.crossfade import blend_mouths, fade_schedule
from tango.lipsync.mouth_shape import ALIGN_ROWS, similarity_fit, to_pixels
from tango.lipsync.visemes import viseme_similarity as default_viseme_similarity
from tango.lipsync.mouth_search import MouthSearchConfig, MouthTargets, search_mouths, unary_costs
from tango.perception.face import FACE_POINTS, OVAL_ROWS, FaceOptions, crop_square, still_face_mesh
from tango.render.frames import FrameSource

SOURCES = ("model", "phones", "both")
LEFT_TRANSITION, LEFT_NO_FACE, LEFT_FAILED = "transition", "no_face", "composite_failed"
LEFT_POSE = "pose_mismatch"
CROSSFADE_FRAMES = 2  # see MouthPlan.fade_state


@dataclasses.dataclass(frozen=True)
class MouthPlan:
    mouth: np.ndarray  # (N,) int64 state of the mouth shown at each output frame, -1 = frame left as is
    frame_state: np.ndarray  # (N,) int64 state of the reference frame shown (-1 for generated frames)
    face: np.ndarray  # (N, 95, 3) normalised face mesh of each output frame (blended in windows; NaN = none)
    head_pose: np.ndarray  # (N, 3) degrees, likewise
    left: dict[str, int]  # reason -> frames left
    source: str  # "model", "phones" or "both": what drove the targets
    jumps: int  # mouth runs started
    seconds: float
    fade_state: np.ndarray  # (N,) int64 previous run's continuation blended in after a jump, -1 = none
    fade_weight: np.ndarray  # (N,) float32 its weight in the blend
    lips: np.ndarray | None = None  # (N, 40, 2) target lips (pose-free template frame) the mouths are warped toward


def real_neighbours(frame_state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) last output frame at or before each that shows a real frame (-1: none), and (N,) the first at or
    after it (N: none)."""
    n = len(frame_state)
    index, shown = np.arange(n), frame_state >= 0
    before = np.maximum.accumulate(np.where(shown, index, -1))
    after = np.minimum.accumulate(np.where(shown, index, n)[::-1])[::-1]
    return before, after


def frame_faces(speakers: SpeakerMouths, frame_state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 95, 3) face mesh and (N, 3) head pose of every output frame. A generated frame (state -1) gets the
    linear blend of the real frames before and after its window at its place in the window; NaN where the
    output has a real frame on one side only, or a side has no face."""
    n = len(frame_state)
    shown = frame_state >= 0
    landmarks = np.full((n, *speakers.landmarks.shape[1:]), np.nan, np.float32)
    pose = np.full((n, 3), np.nan, np.float32)
    landmarks[shown] = speakers.landmarks[frame_state[shown]]
    pose[shown] = speakers.bank.head_pose[frame_state[shown]]
    index = np.arange(n)
    before, after = real_neighbours(frame_state)  # (N,), (N,)
    inside = ~shown & (before >= 0) & (after < n)
    tau = ((index - before) / np.maximum(after - before, 1))[inside].astype(np.float32)  # (G,)
    landmarks[inside] = ((1 - tau)[:, None, None] * landmarks[before[inside]]
                         + tau[:, None, None] * landmarks[after[inside]])
    pose[inside] = (1 - tau)[:, None] * pose[before[inside]] + tau[:, None] * pose[after[inside]]
    return landmarks, pose


def targets_for(speakers: SpeakerMouths, speech: np.ndarray, head_pose: np.ndarray, fps: float,
                source: str, visemes: VisemeFn | None) -> tuple[MouthTargets, str]:
    """Targets of every output frame and the source actually used (phones need a recogniser)."""
    n = len(head_pose)
    use_model = source in ("model", "both") and speakers.model is not None
    use_phones = source in ("phones", "both") and visemes is not None and speakers.bank.visemes is not None
    if not use_model and not use_phones:
        use_model = speakers.model is not None
    target_visemes = visemes(speech, n, fps) if use_phones else None
    if use_model and use_phones and speakers.phone_model is not None:
        # "both": the speaker's phone model turns audio and phones into lips; the hand-set viseme cost is
        # left out (measured with it: LMD reduction 22 s 24.8 %, German 32.4 %; without 27.9 / 31.8 %)
        coefficients = speakers.phone_model.predict(speech, n, fps, visemes=target_visemes)
        return MouthTargets(lips=speakers.basis.points(coefficients), visemes=None, head_pose=head_pose), "both"
    lips = speakers.basis.points(speakers.model.predict(speech, n, fps)) if use_model else None
    used = "both" if use_model and use_phones else ("model" if use_model else "phones")
    return MouthTargets(lips=lips, visemes=target_visemes, head_pose=head_pose), used


def plan_mouths(speakers: SpeakerMouths, speech: np.ndarray, fps: float, frame_state: np.ndarray,
                source: str = "both", visemes: VisemeFn | None = None,
                config: MouthSearchConfig = MouthSearchConfig(),
                viseme_similarity: np.ndarray | None = None, crossfade: int = CROSSFADE_FRAMES) -> MouthPlan:
    """frame_state (N,): the reference state shown at each output frame, -1 where the frame is generated;
    crossfade: frames over which a new run of mouths fades in from the previous run's continuation."""
    started = time.perf_counter()
    face, head_pose = frame_faces(speakers, frame_state)
    targets, used = targets_for(speakers, speech, head_pose, fps, source, visemes)
    if targets.lips is None and targets.visemes is None:
        raise ValueError("no mouth target: the references have no audio and no phone recogniser is installed")
    if viseme_similarity is None and targets.visemes is not None:
        viseme_similarity = default_viseme_similarity()
    unary = unary_costs(targets, speakers.bank, config, viseme_similarity)
    path = search_mouths(unary, speakers.bank, config)
    faced = np.isfinite(face).all(axis=(1, 2))
    mouth = np.where(faced, path, -1)
    before, after = real_neighbours(frame_state)
    one_sided = (frame_state < 0) & ((before < 0) | (after >= len(frame_state)))
    left = {LEFT_TRANSITION: int(one_sided.sum()), LEFT_NO_FACE: int((~faced & ~one_sided).sum())}
    jumps = int(np.sum(path[1:] != speakers.bank.next_frame[path[:-1]]))
    fade_state, fade_weight = fade_schedule(path, speakers.bank.next_frame, speakers.bank.usable, crossfade)
    fade_state = np.where(mouth >= 0, fade_state, -1)
    return MouthPlan(mouth=mouth, frame_state=frame_state, face=face, head_pose=head_pose,
                     left={k: v for k, v in left.items() if v}, source=used, jumps=jumps,
                     seconds=time.perf_counter() - started, fade_state=fade_state, fade_weight=fade_weight,
                     lips=targets.lips)


def draw_planned(speakers: SpeakerMouths, plan: MouthPlan, position: int, frame: np.ndarray, source: np.ndarray,
                 state: int, config: CompositeConfig = CompositeConfig(),
                 face: np.ndarray | None = None) -> np.ndarray | None:
    """Output frame `position` with reference state `state`'s mouth (`source`: its frame at the output's size)
    composited on the plan's face (or `face`, (95, 3) output pixels, z in x's pixels, where given), its lips
    warped `config.lip_warp` of the way to the plan's target lips: the drawing rule of `MouthCompositor`. None
    when it cannot be done."""
    height, width = frame.shape[:2]
    face = to_pixels(plan.face[position], width, height) if face is None else face
    shift = None
    if plan.lips is not None and speakers.lips is not None:
        shift = lip_shift(face, speakers.template, plan.lips[position], speakers.lips[state], config)
    return composite_mouth(frame, face, source, to_pixels(speakers.landmarks[state], width, height), config, shift)


def moved_onto(blend: np.ndarray, found: np.ndarray, max_offset: float, min_offset: float = 0.0) -> np.ndarray | None:
    """(95, 3) the blended face `blend` (pixels, z in x's pixels) moved by the 3-D similarity of its rigid points
    onto those of `found` (the face meshed in the frame), or None (keep the blend) when that is implausible — a
    point of `found` not finite, or its rigid points lying on average more than `max_offset` inter-ocular
    distances from the blend's — or not worth it: less than `min_offset` from it (within the mesh's own noise)."""
    blend, found = np.asarray(blend, np.float64), np.asarray(found, np.float64)
    if not (np.isfinite(blend).all() and np.isfinite(found).all()):
        return None
    interocular = float(np.linalg.norm(blend[ALIGN_ROWS[0], :2] - blend[ALIGN_ROWS[3], :2]))
    offset = float(np.linalg.norm(found[ALIGN_ROWS, :2] - blend[ALIGN_ROWS, :2], axis=1).mean())
    if not interocular > 0 or not min_offset * interocular <= offset <= max_offset * interocular:
        return None
    scale, rotation, shift = similarity_fit(blend[None, ALIGN_ROWS], found[ALIGN_ROWS])
    return (scale[0] * blend @ rotation[0].T + shift[0]).astype(np.float32)


class GeneratedFaces:
    """Where the face really is in a generated frame: MediaPipe face mesh (still images, refined landmarks, as
    perception meshes the references) on a square crop around the blended face, `crop_scale` face widths wide
    meshed at `crop_px`, less the mesher's offset from perception's on the real frame before the window
    (`calibrate`); the blend moved onto it (`moved_onto`), or None. ~15-20 ms per generated frame (2 busy cores)."""

    def __init__(self, max_offset: float = 0.35, min_offset: float = 0.03, options: FaceOptions = FaceOptions()):
        # min_offset: the face meshed on a generated frame wanders a pixel or two (inter-ocular ~117 px on the 22 s
        # demo); nearer the blend than that, moving the mouth only adds the noise. On the demo's 83 generated
        # frames (mouth-corner slip against the nose, re-meshed on the output, before -> after): 2.45 -> 2.04 px
        # with 0.03 and with 0.02, but 0.03 worsened fewer frames (14 vs 19 by > 0.5 px) of those near the blend
        self.max_offset, self.min_offset = max_offset, min_offset
        self.options = options
        self._model = None
        self.found = 0  # frames the face was meshed and used in
        self.missed = 0  # frames left on the blend: no face meshed, or it lies within min_offset or past max_offset
        self.offsets: list[float] = []  # px: mean rigid-point move from the blend, where used
        self.seconds = 0.0
        self._bias: tuple[int | None, np.ndarray | None] = (None, None)  # (key, (95, 3) px) see `calibrate`

    def calibrate(self, key: int, frame: np.ndarray, known: np.ndarray) -> None:
        """Meshes a REAL frame whose face `known` (95, 3 pixels: perception's mesh) is known, and keeps, under
        `key`, how this mesher's face sits off perception's there (still images on this crop vs perception's
        tracked video mesh differ by a pixel or two): the generated frames after it take it off theirs."""
        began = time.perf_counter()
        found = self._mesh_face(frame, known)
        self._bias = (key, None if found is None else found - known)
        self.seconds += time.perf_counter() - began

    def __call__(self, frame: np.ndarray, blend: np.ndarray, key: int | None = None) -> np.ndarray | None:
        """frame (H, W, 3) uint8 rgb; blend (95, 3) pixels; key: the `calibrate` key whose offset to take off
        (the real frame before the window). (95, 3) pixels of the face to draw on, or None."""
        began = time.perf_counter()
        try:
            found = self._mesh_face(frame, blend)
            if found is not None and key is not None and self._bias[0] == key and self._bias[1] is not None:
                found = found - self._bias[1]
            moved = None if found is None else moved_onto(blend, found, self.max_offset, self.min_offset)
        finally:
            self.seconds += time.perf_counter() - began
        if moved is None:
            self.missed += 1
        else:
            self.found += 1
            self.offsets.append(float(np.linalg.norm(moved[ALIGN_ROWS, :2] - blend[ALIGN_ROWS, :2], axis=1).mean()))
        return moved

    def _mesh_face(self, frame: np.ndarray, near: np.ndarray) -> np.ndarray | None:
        """(95, 3) pixels of the face meshed in a crop of `frame` around the face `near` (95, 3 pixels), or None."""
        if not np.isfinite(near).all():
            return None
        oval = near[OVAL_ROWS, :2]
        width = float(np.ptp(oval[:, 0]))
        if width < self.options.min_head_px:
            return None
        side = int(round(self.options.crop_scale * width))
        x0, y0 = (np.round(oval.mean(axis=0) - side / 2)).astype(int)
        crop = crop_square(np.ascontiguousarray(frame), int(x0), int(y0), side, self.options.crop_px)
        points = self._run_mesh(crop)
        if points is None:
            return None
        return points[list(FACE_POINTS)] * side + np.array([x0, y0, 0.0])  # (95, 3) pixels, z in x's pixels

    def _run_mesh(self, crop: np.ndarray) -> np.ndarray | None:
        """(478, 3) normalised crop points of MediaPipe's face mesh, or None."""
        if self._model is None:
            self._model = still_face_mesh(self.options)
        result = self._model.process(crop)
        if not result.multi_face_landmarks:
            return None
        return np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], np.float64)

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None

    def report(self) -> dict:
        return {"meshed": self.found, "blend": self.missed,
                "mean_move_px": round(float(np.mean(self.offsets)), 2) if self.offsets else 0.0}


class MouthCompositor:
    """Renderer finisher: (position, frame) -> frame with the planned mouth; fetches mouths in chunks. On a
    generated frame the mouth goes where `generated_faces` finds the face in it (None: on the plan's blend)."""

    def __init__(self, speakers: SpeakerMouths, plan: MouthPlan, frame_source: FrameSource,
                 source_frame: list[np.ndarray], config: CompositeConfig = CompositeConfig(), chunk: int = 32,
                 generated_faces: GeneratedFaces | None = None):
        self.speakers = speakers
        self.plan = plan
        self.frame_source = frame_source
        self.source_frame = source_frame  # per video (F_v,) perception frame -> decoded frame
        self.config = config
        self.chunk = chunk
        self._cache: dict[int, np.ndarray] = {}  # state -> rgb at source size
        self._fetched_until = 0
        self.changed = 0
        self.crossfaded = 0
        self.left: Counter = Counter(plan.left)
        self.seconds = {"fetch": 0.0, "composite": 0.0}
        self.generated_faces = generated_faces
        self._before = real_neighbours(plan.frame_state)[0]  # (N,) the real output frame before each
        self._face: tuple[int, np.ndarray | None] | None = None  # (position, face pixels) of the frame drawn

    def __call__(self, position: int, frame: np.ndarray) -> np.ndarray:
        self._calibrate(position, frame)
        state = int(self.plan.mouth[position])
        if state < 0:
            return frame
        if position >= self._fetched_until:
            self._fetch(position)
        if not self._turned_alike(position, state):
            self.left[LEFT_POSE] += 1
            return frame
        began = time.perf_counter()
        self._face = (position, self._generated_face(position, frame))
        out = self._draw(position, frame, state)
        fade = int(self.plan.fade_state[position])
        if out is not None and fade >= 0 and self._turned_alike(position, fade):
            continued = self._draw(position, frame, fade)
            if continued is not None:
                out = blend_mouths(frame, out, continued, float(self.plan.fade_weight[position]))
                self.crossfaded += 1
        self.seconds["composite"] += time.perf_counter() - began
        if out is None:
            self.left[LEFT_FAILED] += 1
            return frame
        self.changed += 1
        return out

    def _turned_alike(self, position: int, state: int) -> bool:
        return turned_alike(self.speakers.bank.head_pose[state], self.plan.head_pose[position], self.config)

    def _generated_face(self, position: int, frame: np.ndarray) -> np.ndarray | None:
        """(95, 3) output pixels of the face found in generated frame `position`; None: the plan's (a real
        frame, no finder, or none found)."""
        if self.generated_faces is None or self.plan.frame_state[position] >= 0:
            return None
        height, width = frame.shape[:2]
        blend = to_pixels(self.plan.face[position], width, height)
        return self.generated_faces(frame, blend, key=int(self._before[position]))

    def _calibrate(self, position: int, frame: np.ndarray) -> None:
        """At a real frame just before a window of generated frames, calibrates the face finder on it."""
        states = self.plan.frame_state
        if (self.generated_faces is None or states[position] < 0 or position + 1 >= len(states)
                or states[position + 1] >= 0 or self.plan.mouth[position + 1] < 0):
            return
        height, width = frame.shape[:2]
        # in float64, as measured: float32 rounding tipped generated frames across `min_offset` (the demo's 275-290)
        known = to_pixels(self.plan.face[position].astype(np.float64), width, height)
        self.generated_faces.calibrate(position, frame, known)

    def _draw(self, position: int, frame: np.ndarray, state: int) -> np.ndarray | None:
        """The frame with reference state `state`'s mouth composited onto output frame `position`'s face."""
        height, width = frame.shape[:2]
        source = self._cache[state]
        if source.shape[:2] != (height, width):
            source = cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA)
        face = self._face[1] if self._face is not None and self._face[0] == position else None
        return draw_planned(self.speakers, self.plan, position, frame, source, state, self.config, face)

    def _fetch(self, position: int) -> None:
        """Reads the mouths of output frames [position, position + chunk), grouped per video, sorted."""
        began = time.perf_counter()
        end = min(position + self.chunk, len(self.plan.mouth))
        wanted = np.unique(np.r_[self.plan.mouth[position:end], self.plan.fade_state[position:end]])
        wanted = wanted[wanted >= 0]
        keep = set(wanted.tolist())
        self._cache = {s: f for s, f in self._cache.items() if s in keep}
        missing = [int(s) for s in wanted if int(s) not in self._cache]
        videos = self.speakers.video[missing] if missing else np.zeros(0, np.int32)
        for v in np.unique(videos):
            states = [s for s, sv in zip(missing, videos) if sv == v]
            decoded = {int(self.source_frame[v][self.speakers.local[s]]): s for s in states}
            frames = self.frame_source(int(v), sorted(decoded))
            self._cache.update({decoded[i]: frames[i] for i in decoded})
        self._fetched_until = end
        self.seconds["fetch"] += time.perf_counter() - began

    def report(self, method: str = "mouths") -> dict:
        """The sidecar's `lipsync` entry."""
        generated = {} if self.generated_faces is None else {"generated_faces": self.generated_faces.report()}
        seconds = dict(self.seconds)
        if self.generated_faces is not None:
            seconds["generated_faces"] = self.generated_faces.seconds
        return {"status": "applied", "method": method, "source": self.plan.source, "frames_changed": self.changed,
                "frames_left": int(sum(self.left.values())), "left": dict(self.left), "mouth_runs": self.plan.jumps + 1,
                "frames_crossfaded": self.crossfaded, **generated,
                "timings_s": {"plan": round(self.plan.seconds, 4),
                              **{k: round(v, 4) for k, v in seconds.items()}}}
