"""tango.lipsync.mouths.frame_faces: generated transition frames get the blend of their window's real faces."""
from __future__ import annotations

import numpy as np

from tango.lipsync.bank import SpeakerMouths
from tango.lipsync.mouth_search import MouthBank
from tango.lipsync.mouth_shape import ShapeBasis
from tango.lipsync.mouths import frame_faces


def _speakers(frames: int) -> SpeakerMouths:
    landmarks = np.zeros((frames, 95, 3), np.float32)
    landmarks[..., 0] = np.arange(frames, dtype=np.float32)[:, None]  # x = frame index
    pose = np.stack([np.arange(frames, dtype=np.float32)] * 3, axis=1)
    landmarks[3] = np.nan  # frame 3 has no face
    bank = MouthBank(coefficients=np.zeros((frames, 2), np.float32), visemes=None, head_pose=pose,
                     usable=np.ones(frames, bool), next_frame=np.r_[np.arange(1, frames), -1],
                     lips=np.zeros((frames, 40, 2), np.float32))
    basis = ShapeBasis(mean=np.zeros(2), components=np.eye(2), scale=np.ones(2))
    return SpeakerMouths(template=np.zeros((11, 3)), basis=basis, bank=bank, landmarks=landmarks,
                         video=np.zeros(frames, np.int32), local=np.arange(frames), offsets=np.zeros(1, np.int64),
                         model=None, face_ratio=1.0)


def test_windows_blend_their_real_ends():
    speakers = _speakers(20)
    # output: real 10, 11, window of 3 generated, real 16, 17, window, real 3 (no face), generated at the end
    state = np.array([10, 11, -1, -1, -1, 16, 17, -1, 3, -1])
    face, pose = frame_faces(speakers, state)
    np.testing.assert_allclose(face[:7, 0, 0], [10, 11, 12.25, 13.5, 14.75, 16, 17])
    np.testing.assert_allclose(pose[2:5, 0], [12.25, 13.5, 14.75])
    assert np.isnan(face[7]).all() and np.isnan(face[8]).all()  # a side without a face, and no face
    assert np.isnan(face[9]).all()  # a real face on one side only


class _Model:
    def __init__(self, value: float, phones: bool):
        self.value, self.phones, self.heard = value, phones, None

    def predict(self, speech, n_frames, fps, visemes=None):
        self.heard = visemes
        return np.full((n_frames, 2), self.value)


def test_both_takes_its_lips_from_the_phone_model_without_the_viseme_cost():
    import dataclasses

    from tango.lipsync.mouths import targets_for

    speakers = _speakers(20)
    basis = ShapeBasis(mean=np.zeros(120), components=np.eye(120)[[0, 1]], scale=np.ones(2))  # lip 0's x, y
    speakers = dataclasses.replace(speakers, model=_Model(1.0, False), phone_model=_Model(2.0, True), basis=basis,
                                   bank=dataclasses.replace(speakers.bank, visemes=np.zeros(20, np.int64)))
    track = lambda speech, n, fps: np.arange(n) % 3  # noqa: E731
    pose = np.zeros((6, 3), np.float32)
    both, used = targets_for(speakers, np.zeros(16000, np.float32), pose, 25.0, "both", track)
    assert used == "both" and both.visemes is None
    np.testing.assert_allclose(both.lips[:, 0], 2.0)  # the phone model's prediction
    np.testing.assert_array_equal(speakers.phone_model.heard, np.arange(6) % 3)
    model, used = targets_for(speakers, np.zeros(16000, np.float32), pose, 25.0, "model", track)
    assert used == "model" and model.visemes is None
    np.testing.assert_allclose(model.lips[:, 0], 1.0)
    phones, used = targets_for(speakers, np.zeros(16000, np.float32), pose, 25.0, "phones", track)
    assert used == "phones" and phones.lips is None and phones.visemes is not None
