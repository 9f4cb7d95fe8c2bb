"""Wav2Lip (Prajwal et al., "A Lip Sync Expert Is All You Need for Speech to Lip Generation In the Wild",
ACM MM 2020) as the lip-sync post-process behind `tango.render.lipsync.LipSyncModel`.

- Network: `Wav2Lip` has the module tree of the official `models/wav2lip.py`, so the parameter and buffer
  names and shapes equal those of the published `wav2lip.pth` / `wav2lip_gan.pth` and a user's file loads
  with `strict=True`. Face encoder on (B, 6, 96, 96) crops (masked target + reference), audio encoder on
  (B, 1, 80, 16) mel windows, a U-Net decoder fed with the face encoder's skips, a sigmoid RGB output.
- Audio: `melspectrogram` is the front end of Wav2Lip's `audio.py` / `hparams.py` (pre-emphasis, librosa
  STFT with reflect padding as librosa 0.7 did, Slaney mel basis, dB, symmetric [-4, 4] normalisation).
- Inference (Wav2Lip's `inference.py`): one face box per frame (padded 10 px downwards, averaged over the
  next 5 frames), the 96x96 crop with its lower half zeroed next to the unmasked crop, the 16-step mel window
  starting at mel frame int(i * 80 / fps), the 96x96 prediction resized back into the box and pasted.
  The network was trained on OpenCV (BGR) crops, so crops are fed, and read back, in BGR order.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import librosa
import numpy as np
import torch
from scipy import signal
from torch import nn

from tango.render.lipsync import LipSyncWeights

FaceBoxes = Callable[[np.ndarray], np.ndarray]  # (N, H, W, 3) uint8 RGB -> (N, 4) int x0, y0, x1, y1 / -1 rows


@dataclass(frozen=True)
class Wav2LipConfig:
    """Wav2Lip's hparams.py (audio + image size) and inference.py defaults (pads, smoothing, batch)."""

    sample_rate: int = 16000
    n_fft: int = 800
    hop_size: int = 200  # 12.5 ms -> 80 mel frames per second
    win_size: int = 800
    num_mels: int = 80
    fmin: float = 55.0
    fmax: float = 7600.0
    preemphasis: float = 0.97
    ref_level_db: float = 20.0
    min_level_db: float = -100.0
    max_abs_value: float = 4.0  # symmetric mels, clipped to [-4, 4]
    mel_step_size: int = 16  # mel frames per window (0.2 s)
    img_size: int = 96
    pads: tuple[int, int, int, int] = (0, 10, 0, 0)  # top, bottom, left, right, in pixels
    smooth_frames: int = 5  # face boxes averaged over this many frames
    batch_size: int = 16  # crops per forward pass

    @property
    def mel_fps(self) -> float:
        return self.sample_rate / self.hop_size


DEFAULT_CONFIG = Wav2LipConfig()


# ---------------------------------------------------------------------------------------------- network
class Conv2d(nn.Module):
    """Convolution + BatchNorm + ReLU, optionally residual (input added before the ReLU)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int | tuple[int, int], padding: int,
                 residual: bool = False) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, cin, H, W) -> (B, cout, H', W')
        out = self.conv_block(x)
        return self.act(out + x if self.residual else out)


class Conv2dTranspose(nn.Module):
    """Transposed convolution + BatchNorm + ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int, padding: int,
                 output_padding: int = 0) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, cin, H, W) -> (B, cout, H', W')
        return self.act(self.conv_block(x))


def _residuals(channels: int, count: int) -> list[nn.Module]:
    return [Conv2d(channels, channels, 3, 1, 1, residual=True) for _ in range(count)]


def _encoder_stage(cin: int, cout: int, stride: int | tuple[int, int], n_residual: int) -> list[nn.Module]:
    """A strided 3x3 conv followed by `n_residual` residual 3x3 convs."""
    return [Conv2d(cin, cout, 3, stride, 1), *_residuals(cout, n_residual)]


def _decoder_stage(cin: int, cout: int, stride: int, n_residual: int) -> nn.Sequential:
    """A 3x3 transposed conv (x3 from 1x1 when stride 1, else x2) followed by residual 3x3 convs."""
    padding, output_padding = (0, 0) if stride == 1 else (1, 1)
    return nn.Sequential(Conv2dTranspose(cin, cout, 3, stride, padding, output_padding),
                         *_residuals(cout, n_residual))


class Wav2Lip(nn.Module):
    """The Wav2Lip generator; state_dict keys/shapes equal the published checkpoints'."""

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList([
            nn.Sequential(Conv2d(6, 16, 7, 1, 3)),                             # (B, 16, 96, 96)
            nn.Sequential(*_encoder_stage(16, 32, 2, 2)),                      # (B, 32, 48, 48)
            nn.Sequential(*_encoder_stage(32, 64, 2, 3)),                      # (B, 64, 24, 24)
            nn.Sequential(*_encoder_stage(64, 128, 2, 2)),                     # (B, 128, 12, 12)
            nn.Sequential(*_encoder_stage(128, 256, 2, 2)),                    # (B, 256, 6, 6)
            nn.Sequential(*_encoder_stage(256, 512, 2, 1)),                    # (B, 512, 3, 3)
            nn.Sequential(Conv2d(512, 512, 3, 1, 0), Conv2d(512, 512, 1, 1, 0)),  # (B, 512, 1, 1)
        ])
        self.audio_encoder = nn.Sequential(
            *_encoder_stage(1, 32, 1, 2),                                      # (B, 32, 80, 16)
            *_encoder_stage(32, 64, (3, 1), 2),                                # (B, 64, 27, 16)
            *_encoder_stage(64, 128, 3, 2),                                    # (B, 128, 9, 6)
            *_encoder_stage(128, 256, (3, 2), 1),                              # (B, 256, 3, 3)
            Conv2d(256, 512, 3, 1, 0),                                         # (B, 512, 1, 1)
            Conv2d(512, 512, 1, 1, 0),                                         # (B, 512, 1, 1)
        )
        # each decoder output is concatenated with the face encoder's skip of the same size
        self.face_decoder_blocks = nn.ModuleList([
            nn.Sequential(Conv2d(512, 512, 1, 1, 0)),  # (B, 512, 1, 1)   + skip 512 -> 1024
            _decoder_stage(1024, 512, 1, 1),           # (B, 512, 3, 3)   + skip 512 -> 1024
            _decoder_stage(1024, 512, 2, 2),           # (B, 512, 6, 6)   + skip 256 -> 768
            _decoder_stage(768, 384, 2, 2),            # (B, 384, 12, 12) + skip 128 -> 512
            _decoder_stage(512, 256, 2, 2),            # (B, 256, 24, 24) + skip 64  -> 320
            _decoder_stage(320, 128, 2, 2),            # (B, 128, 48, 48) + skip 32  -> 160
            _decoder_stage(160, 64, 2, 2),             # (B, 64, 96, 96)  + skip 16  -> 80
        ])
        self.output_block = nn.Sequential(Conv2d(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, audio: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        """audio (B, 1, 80, 16) mel windows, face (B, 6, 96, 96) in [0, 1] -> (B, 3, 96, 96) in [0, 1]."""
        skips = []
        x = face
        for block in self.face_encoder_blocks:
            x = block(x)
            skips.append(x)
        x = self.audio_encoder(audio)  # (B, 512, 1, 1)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), skips.pop()), dim=1)
        return self.output_block(x)  # (B, 3, 96, 96)


def write_random_wav2lip(path: str | Path, seed: int = 0) -> Path:
    """Saves a randomly initialised Wav2Lip state_dict (tensors only) with torch.save: plumbing checks only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = {k: v.detach().clone() for k, v in Wav2Lip().state_dict().items()}
    path = Path(path)
    torch.save(state, str(path))
    return path


# ------------------------------------------------------------------------------------------------ audio
@functools.lru_cache(maxsize=4)
def _mel_basis(config: Wav2LipConfig) -> np.ndarray:  # (80, n_fft // 2 + 1)
    return librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.num_mels,
                               fmin=config.fmin, fmax=config.fmax)


def melspectrogram(wav: np.ndarray, config: Wav2LipConfig = DEFAULT_CONFIG) -> np.ndarray:
    """wav (S,) mono at config.sample_rate -> (80, S // hop + 1) float32 normalised log-mel in [-4, 4]."""
    emphasised = signal.lfilter([1.0, -config.preemphasis], [1.0], np.asarray(wav, np.float64))  # (S,)
    spectrum = librosa.stft(y=emphasised, n_fft=config.n_fft, hop_length=config.hop_size,
                            win_length=config.win_size, pad_mode="reflect")  # (n_fft // 2 + 1, T)
    mel = _mel_basis(config) @ np.abs(spectrum)  # (80, T)
    min_level = 10.0 ** (config.min_level_db / 20.0)
    db = 20.0 * np.log10(np.maximum(min_level, mel)) - config.ref_level_db
    peak = config.max_abs_value
    normalised = 2 * peak * (db - config.min_level_db) / -config.min_level_db - peak
    return np.clip(normalised, -peak, peak).astype(np.float32)


def mel_windows(mel: np.ndarray, n_frames: int, fps: float, first: int = 0,
                config: Wav2LipConfig = DEFAULT_CONFIG) -> np.ndarray:
    """mel (80, T) -> (n_frames, 1, 80, 16): video frame first + k hears the 16 mel frames from
    int((first + k) * 80 / fps), clamped to the last full window (the audio is padded with silence
    when it is shorter than one window)."""
    step = config.mel_step_size
    if mel.shape[1] < step:
        mel = np.pad(mel, ((0, 0), (0, step - mel.shape[1])), constant_values=-config.max_abs_value)
    frames = first + np.arange(n_frames)  # (n_frames,)
    starts = np.minimum((frames * (config.mel_fps / fps)).astype(np.int64), mel.shape[1] - step)
    windows = np.stack([mel[:, s:s + step] for s in starts]) if n_frames else np.empty((0, mel.shape[0], step))
    return windows[:, None].astype(np.float32)  # (n_frames, 1, 80, 16)


# ------------------------------------------------------------------------------------------- face boxes
def pad_boxes(boxes: np.ndarray, height: int, width: int, pads: tuple[int, int, int, int]) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 (-1 rows kept) grown by pads (top, bottom, left, right), clipped to the frame."""
    top, bottom, left, right = pads
    grown = boxes + np.array([-left, -top, right, bottom])
    grown = np.clip(grown, 0, [width, height, width, height])
    return np.where(boxes[:, :1] < 0, -1, grown)


def smooth_boxes(boxes: np.ndarray, window: int) -> np.ndarray:
    """Each box becomes the mean of itself and the next window-1 boxes (the last `window` at the end), within
    each run of consecutive frames that have a face, floored to integers. -1 rows stay -1."""
    out = boxes.copy()
    valid = boxes[:, 0] >= 0  # (N,)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2]):
        run = boxes[start:stop].astype(np.float64)
        for i in range(len(run)):
            lo = min(i, max(0, len(run) - window))
            out[start + i] = np.floor(run[lo:lo + window].mean(axis=0))
    return out


class MediaPipeFaceBoxes:
    """Default face-box provider: MediaPipe full-range face detection (bundled in the wheel), the most
    confident face per frame, then Wav2Lip's padding and temporal smoothing."""

    def __init__(self, config: Wav2LipConfig = DEFAULT_CONFIG, min_confidence: float = 0.5) -> None:
        self.config = config
        self.min_confidence = min_confidence
        self._detector: Any = None  # created on first use: importing mediapipe is slow

    def _detect(self, rgb: np.ndarray) -> list[int]:
        if self._detector is None:
            import mediapipe as mp

            self._detector = mp.solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=self.min_confidence)
        detections = self._detector.process(np.ascontiguousarray(rgb)).detections
        if not detections:
            return [-1, -1, -1, -1]
        best = max(detections, key=lambda d: d.score[0]).location_data.relative_bounding_box
        height, width = rgb.shape[:2]
        return [int(best.xmin * width), int(best.ymin * height),
                int((best.xmin + best.width) * width), int((best.ymin + best.height) * height)]

    def __call__(self, frames: np.ndarray) -> np.ndarray:  # (N, H, W, 3) -> (N, 4) int64
        raw = np.array([self._detect(frame) for frame in frames], np.int64).reshape(-1, 4)
        padded = pad_boxes(raw, frames.shape[1], frames.shape[2], self.config.pads)
        return smooth_boxes(padded, self.config.smooth_frames)

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None


def _checked_boxes(boxes: np.ndarray, n: int, height: int, width: int) -> np.ndarray:
    """(n, 4) int64 boxes clipped to the frame; empty or negative boxes become -1 rows."""
    boxes = np.asarray(boxes).astype(np.int64).reshape(n, 4)
    clipped = np.clip(boxes, 0, [width, height, width, height])
    empty = (boxes < 0).any(axis=1) | (clipped[:, 2] <= clipped[:, 0]) | (clipped[:, 3] <= clipped[:, 1])
    return np.where(empty[:, None], -1, clipped)


# ------------------------------------------------------------------------------------------------ syncer
class Wav2LipSyncer:
    """`LipSyncModel` over a loaded Wav2Lip: only each frame's face box changes; frames without a face pass."""

    name = "wav2lip"

    def __init__(self, net: Wav2Lip, config: Wav2LipConfig = DEFAULT_CONFIG, face_boxes: FaceBoxes | None = None,
                 device: str | torch.device = "cpu") -> None:
        self.net = net.to(device).eval()
        self.config = config
        self.device = torch.device(device)
        self.face_boxes = face_boxes if face_boxes is not None else MediaPipeFaceBoxes(config)
        self.frames_changed = 0  # over all sync calls
        self.frames_left = 0
        self.last_boxes = np.empty((0, 4), np.int64)  # (N, 4) boxes of the last sync call, -1 rows = no face
        self._mel_cache: tuple[np.ndarray, int, np.ndarray] | None = None  # (audio, rate, mel)

    def sync(self, frames: np.ndarray, first_frame: int, fps: float, audio: np.ndarray,
             audio_rate: int) -> np.ndarray:
        """frames (N, H, W, 3) uint8 RGB from output frame `first_frame` -> (N, H, W, 3) uint8."""
        n, height, width = frames.shape[:3]
        boxes = _checked_boxes(self.face_boxes(frames), n, height, width)  # (N, 4)
        self.last_boxes = boxes
        out = frames.copy()
        with_face = np.flatnonzero(boxes[:, 0] >= 0)  # (M,)
        if with_face.size:
            windows = mel_windows(self._mel(audio, audio_rate), n, fps, first_frame, self.config)[with_face]
            crops = np.stack([self._crop(frames[i], boxes[i]) for i in with_face])  # (M, 96, 96, 3) BGR
            for i, face in zip(with_face, self._predict(crops, windows)):
                x0, y0, x1, y1 = boxes[i]
                out[i, y0:y1, x0:x1] = cv2.resize(face, (x1 - x0, y1 - y0))[..., ::-1]  # BGR -> RGB
        self.frames_changed += int(with_face.size)
        self.frames_left += n - int(with_face.size)
        return out

    def _mel(self, audio: np.ndarray, audio_rate: int) -> np.ndarray:  # (80, T), computed once per track
        cached = self._mel_cache
        if cached is not None and cached[0] is audio and cached[1] == audio_rate:
            return cached[2]
        wav = np.asarray(audio, np.float32).reshape(-1)
        if audio_rate != self.config.sample_rate:
            wav = librosa.resample(wav, orig_sr=audio_rate, target_sr=self.config.sample_rate)
        mel = melspectrogram(wav, self.config)
        self._mel_cache = (audio, audio_rate, mel)  # holding `audio` keeps its identity unique
        return mel

    def _crop(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:  # (H, W, 3) RGB -> (96, 96, 3) BGR
        x0, y0, x1, y1 = box
        size = self.config.img_size
        return cv2.resize(np.ascontiguousarray(frame[y0:y1, x0:x1, ::-1]), (size, size))

    @torch.inference_mode()
    def _predict(self, crops: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """crops (M, 96, 96, 3) uint8 BGR, windows (M, 1, 80, 16) -> (M, 96, 96, 3) uint8 BGR."""
        masked = crops.copy()
        masked[:, self.config.img_size // 2:] = 0  # the lower half the network must draw
        faces = np.concatenate([masked, crops], axis=3).astype(np.float32) / 255.0  # (M, 96, 96, 6)
        out = []
        for lo in range(0, len(crops), self.config.batch_size):
            face = torch.from_numpy(faces[lo:lo + self.config.batch_size]).permute(0, 3, 1, 2)  # (b, 6, 96, 96)
            mel = torch.from_numpy(windows[lo:lo + self.config.batch_size])  # (b, 1, 80, 16)
            pred = self.net(mel.to(self.device), face.to(self.device))  # (b, 3, 96, 96)
            out.append((pred.permute(0, 2, 3, 1).float().cpu().numpy() * 255.0).astype(np.uint8))
        return np.concatenate(out)  # (M, 96, 96, 3)

    def close(self) -> None:
        close = getattr(self.face_boxes, "close", None)
        if close is not None:
            close()


def build_wav2lip(weights: LipSyncWeights, device: str | torch.device = "cpu",
                  config: Wav2LipConfig = DEFAULT_CONFIG, face_boxes: FaceBoxes | None = None) -> Wav2LipSyncer:
    """The `build` of `resolve_lipsync`: Wav2Lip with the checkpoint loaded strictly, in eval mode."""
    net = Wav2Lip()
    net.load_state_dict(weights.state_dict, strict=True)  # RuntimeError on any key or shape mismatch
    return Wav2LipSyncer(net, config=config, face_boxes=face_boxes, device=device)
