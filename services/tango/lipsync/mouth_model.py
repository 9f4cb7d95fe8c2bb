"""The speaker mouth model: audio in, the speaker's own lip shape out. Trained at ingest, any language.

Features: log-mel spectrogram (20 bands, 25 ms windows every 10 ms) of the 16 kHz speech; for video frame
i (centre time (i + 0.5) / fps) the mel frames within +-`context_s` (every `stride`-th one) are stacked,
with their per-band deviations from the utterance mean (so the model hears changes, not the microphone),
into one vector. Model: kernel ridge regression (`MouthModelConfig.kernel` "rbf", the default) from the
standardised vector to the whitened PCA coefficients of the lip shape (`mouth_shape.ShapeBasis`), trained on
the reference's own (audio, lips) frames where a face was meshed, the ridge strength picked by a
time-blocked hold-out. The kernel is the Gaussian exp(-|a - b|^2 / D) of the standardised D-vectors (the
usual 1 / D width, fixed a priori): the lips are not a linear function of the log spectrum (the same energy
in a band goes with an open vowel or a closed nasal, depending on the rest of the spectrum), and kernel
ridge predicts a frame's lips from those of the training frames that sound alike. The training frames are
its centres (exact kernel ridge) up to `max_centres`; beyond, that many evenly spaced frames are the
centres of a Nystroem fit (all frames still fit the weights), so a long reference costs O(F M^2), not
O(F^3). "linear" is the plain ridge of the standardised vector (the model before). Fold-honest on held-out
spans (`tango lipsync eval`, source "both", linear -> rbf): LMD reduction with 5 folds 22 s speaker
28.9 -> 28.8 %, German 35.5 -> 37.4 % (with the reference's phones recognised anew rather than kept from
ingest: 5 folds 28.8 -> 28.8 / 35.7 -> 37.3 %, 4 folds 27.9 -> 29.6 / 35.3 -> 37.7 %, 6 folds
28.9 -> 28.1 / 34.5 -> 34.7 %); the predicted lips alone (no compositing, 5 folds) 29.6 -> 29.6 % and
41.7 -> 44.7 %, those of the audio-only model 28.1 -> 29.3 % and 37.8 -> 41.7 %. The 22 s speaker's lips
follow her head turns and expressions more than her speech: the training frames' mean mouth alone reduces
the LMD by 27 %.
Predictions of a ridge shrink towards the mean mouth; they are rescaled per coefficient by the square root
of (true spread / fitted spread): half-way, in log scale, between the shrunk predictions (which make
retrieval pick near-average mouths: low landmark distance, little motion) and the full spread (lively, but
it amplifies the errors of a model trained on a few hundred frames). Measured on held-out spans (`tango
lipsync eval`): the full spread raised the landmark distance on the 22 s speaker by a third against the
square root.

With a phone recogniser (`visemes`), a second model also hears the phones: each frame's viseme class and
those of the `viseme_context` frames either side (+-80 ms at 25 fps, the span of co-articulation), as
one-hot columns next to the mel context (`viseme_features`), the same (kernel) ridge. The speaker's own
lips turn the recognised phones into shapes, so no hand-set viseme similarity decides. Measured on held-out
spans (`tango lipsync eval`, 5 folds; the ridge strength chosen inside each fold's training data as always;
linear ridge): LMD reduction 22 s speaker 26.8 -> 27.9 %, German 28.9 -> 31.8 % (the US-English recogniser still marks
silences, closures and vowels of German speech). The viseme context was fixed a priori, not tuned.

Small (M x D centres and M x K weights; D = 220 by default, 285 with phones) and closed-form: training on a
few hundred frames takes well under a second (9000 frames, 1000 centres: 1.6 s), inference is one kernel
matrix and one matrix product per utterance, so it runs inside the render stage rather than as a separate
model server. Stored as safetensors (`save` / `load`), strictly checked.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from tango.runtime.errors import CheckpointMismatch

SAMPLE_RATE = 16000


@dataclasses.dataclass(frozen=True)
class MouthModelConfig:
    mel_bands: int = 20
    window_s: float = 0.025
    hop_s: float = 0.010
    context_s: float = 0.10  # mel frames within +-context around a video frame's centre
    stride: int = 2  # every stride-th mel frame of the context
    alphas: tuple[float, ...] = (1e2, 1e3, 1e4, 1e5)  # ridge strengths tried
    holdout_blocks: int = 5  # time blocks; the last one validates the ridge strength
    viseme_context: int = 2  # video frames either side whose viseme a phone model hears
    kernel: str = "rbf"  # "rbf": kernel ridge with a Gaussian kernel; "linear": ridge (`alphas`)
    kernel_alphas: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # kernel ridge strengths tried
    max_centres: int = 1000  # kernel centres at most (more training frames: a Nystroem fit)

    @property
    def context_frames(self) -> int:
        return int(round(self.context_s / self.hop_s))


def log_mel(speech: np.ndarray, config: MouthModelConfig) -> np.ndarray:
    """(M, bands) log-mel frames of mono 16 kHz float speech, frame m centred at m * hop_s."""
    import librosa  # lazily: numba JIT on first import of some functions

    window, hop = int(config.window_s * SAMPLE_RATE), int(config.hop_s * SAMPLE_RATE)
    n_fft = 1 << (window - 1).bit_length()
    padded = np.pad(np.asarray(speech, np.float32), (n_fft // 2, n_fft // 2))
    count = 1 + max(0, (len(padded) - n_fft) // hop)
    index = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]  # (M, n_fft)
    frames = padded[index] * np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (M, n_fft/2+1)
    mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=n_fft, n_mels=config.mel_bands, fmin=60, fmax=7600)
    return np.log(power @ mel.T + 1e-6).astype(np.float32)  # (M, bands)


def warm_up(config: MouthModelConfig = MouthModelConfig()) -> None:
    """`log_mel` once, on a tenth of a second of silence: its first call imports librosa's filters and
    scipy.signal (0.8-1.6 s on 2 cores, holding the interpreter). The render service runs it as its warm-up
    (before it reports SERVING), so that the first live stream of a fresh replica does not pay it while another
    stream is playing."""
    log_mel(np.zeros(SAMPLE_RATE // 10, np.float32), config)


def frame_features(speech: np.ndarray, n_frames: int, fps: float, config: MouthModelConfig) -> np.ndarray:
    """(n_frames, D) stacked mel context of every video frame (edges replicated)."""
    mel = log_mel(speech, config)
    mel = mel - mel.mean(axis=0, keepdims=True)
    offsets = np.arange(-config.context_frames, config.context_frames + 1, config.stride)  # (C,)
    centre = np.round((np.arange(n_frames) + 0.5) / fps / config.hop_s).astype(np.int64)  # (n,)
    index = np.clip(centre[:, None] + offsets[None, :], 0, len(mel) - 1)  # (n, C)
    return mel[index].reshape(n_frames, -1)  # (n, C * bands)


def viseme_features(visemes: np.ndarray, config: MouthModelConfig) -> np.ndarray:
    """(n, (2 c + 1) V) float32 one-hot viseme classes of each video frame and its c = `viseme_context`
    neighbours either side (edges replicated). visemes (n,) int in [0, V)."""
    from tango.lipsync.visemes import VISEMES

    visemes = np.asarray(visemes, np.int64)
    n, c = len(visemes), config.viseme_context
    index = np.clip(np.arange(n)[:, None] + np.arange(-c, c + 1)[None, :], 0, max(n - 1, 0))  # (n, 2c+1)
    return np.eye(len(VISEMES), dtype=np.float32)[visemes[index]].reshape(n, -1)


def viseme_feature_count(config: MouthModelConfig) -> int:
    from tango.lipsync.visemes import VISEMES

    return (2 * config.viseme_context + 1) * len(VISEMES)


@dataclasses.dataclass(frozen=True)
class MouthModel:
    feature_mean: np.ndarray  # (D,)
    feature_scale: np.ndarray  # (D,)
    weights: np.ndarray  # (D, K); a kernel model's (M, K) are over its centres
    bias: np.ndarray  # (K,)
    output_gain: np.ndarray  # (K,) spread correction of the shrunk ridge predictions
    alpha: float
    validation_r2: float  # mean R^2 of the coefficients on the held-out block
    config: MouthModelConfig = MouthModelConfig()
    phones: bool = False  # whether it also hears the frames' visemes (`viseme_features`)
    centres: np.ndarray | None = None  # (M, D) standardised features of the kernel's centres; None: linear

    def predict(self, speech: np.ndarray, n_frames: int, fps: float, visemes: np.ndarray | None = None) -> np.ndarray:
        """(n_frames, K) whitened mouth-shape coefficients for the frames of a video at fps; a phone model
        needs the (n_frames,) visemes of the speech."""
        features = frame_features(speech, n_frames, fps, self.config)
        if self.phones:
            if visemes is None or len(visemes) != n_frames:
                raise ValueError("this mouth model hears phones: give the visemes of every frame")
            features = np.concatenate([features, viseme_features(visemes, self.config)], axis=1)
        features = (features - self.feature_mean) / self.feature_scale
        if self.centres is not None:
            features = gaussian_kernel(features, self.centres)
        return self.bias + (features @ self.weights) * self.output_gain

    def save(self, path: Path | str) -> None:
        names = ("feature_mean", "feature_scale", "weights", "bias", "output_gain")
        names += ("centres",) if self.centres is not None else ()
        tensors = {name: np.ascontiguousarray(getattr(self, name), dtype=np.float32) for name in names}
        metadata = {"alpha": repr(self.alpha), "validation_r2": repr(self.validation_r2),
                    "config": repr(dataclasses.astuple(self.config)), "phones": repr(self.phones)}
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: Path | str, config: MouthModelConfig = MouthModelConfig()) -> "MouthModel":
        try:
            with safe_open(str(path), framework="np") as stored:  # the tensors, and whether it hears phones
                tensors = {name: stored.get_tensor(name) for name in stored.keys()}
                phones = (stored.metadata() or {}).get("phones") == "True"
        except Exception as exc:  # safetensors raises its own error types for bad headers
            raise CheckpointMismatch(f"cannot read mouth model {path}: {exc}") from exc
        dims = (2 * config.context_frames // config.stride + 1) * config.mel_bands
        dims += viseme_feature_count(config) if phones else 0
        expected = {"feature_mean", "feature_scale", "bias", "output_gain", "weights"}
        kernel = "centres" in tensors  # a kernel model: its weights are over the centres, not the features
        rows = tensors["centres"].shape[0] if kernel else dims
        if (set(tensors) != expected | ({"centres"} if kernel else set()) or tensors["weights"].ndim != 2
                or tensors["weights"].shape[0] != rows or (kernel and tensors["centres"].shape[1:] != (dims,))
                or tensors["feature_mean"].shape != (dims,) or tensors["feature_scale"].shape != (dims,)):
            raise CheckpointMismatch(f"{path} is not a mouth model of {dims} features",
                                     metadata={"keys": ",".join(sorted(tensors))})
        k = tensors["weights"].shape[1]
        if tensors["bias"].shape != (k,) or tensors["output_gain"].shape != (k,):
            raise CheckpointMismatch(f"{path}: bias/output_gain do not match {k} outputs")
        return cls(alpha=0.0, validation_r2=float("nan"), config=config, phones=phones, **tensors)


def gaussian_kernel(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, M) exp(-|x_n - c_m|^2 / D) of (N, D) and (M, D) standardised feature vectors."""
    x, centres = np.asarray(x, np.float64), np.asarray(centres, np.float64)
    squared = np.sum(x**2, 1)[:, None] + np.sum(centres**2, 1)[None, :] - 2.0 * x @ centres.T
    return np.exp(-np.maximum(squared, 0.0) / max(x.shape[1], 1))


def _kernel_ridge(x: np.ndarray, y: np.ndarray, alphas: tuple[float, ...],
                  max_centres: int) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Centres (M, D), weights (M, K) for each ridge strength in `alphas`, and bias (K,) of kernel ridge
    regression on standardised x (N, D): exact with every frame a centre (M = N <= max_centres), else a
    Nystroem fit on M evenly spaced ones (all N frames fit the weights: (K_mn K_nm + alpha K_mm) w = K_mn (y -
    mean)). The kernel products are formed once for all strengths."""
    y_mean = y.mean(axis=0)
    yc = y - y_mean
    if len(x) <= max_centres:
        gram = gaussian_kernel(x, x)
        return x, [np.linalg.solve(gram + alpha * np.eye(len(x)), yc) for alpha in alphas], y_mean
    centres = x[np.linspace(0, len(x) - 1, max_centres).round().astype(np.int64)]
    cross = gaussian_kernel(x, centres)  # (N, M)
    inner = gaussian_kernel(centres, centres)  # (M, M)
    normal, rhs = cross.T @ cross, cross.T @ yc
    jitter = 1e-8 * np.trace(inner) / len(inner) * np.eye(len(inner))
    return centres, [np.linalg.solve(normal + alpha * inner + jitter, rhs) for alpha in alphas], y_mean


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (D, K) and bias (K,) of ridge regression on standardised x (dual form when D > N)."""
    y_mean = y.mean(axis=0)
    yc = y - y_mean
    if x.shape[1] > x.shape[0]:
        gram = x @ x.T + alpha * np.eye(len(x))
        weights = x.T @ np.linalg.solve(gram, yc)
    else:
        weights = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ yc)
    return weights, y_mean - x.mean(axis=0) @ weights


def _r2(prediction: np.ndarray, truth: np.ndarray) -> float:
    residual = np.sum((prediction - truth) ** 2, axis=0)
    total = np.sum((truth - truth.mean(axis=0)) ** 2, axis=0)
    return float(np.mean(1.0 - residual / np.maximum(total, 1e-9)))


def train_mouth_model(features: np.ndarray, coefficients: np.ndarray,
                      config: MouthModelConfig = MouthModelConfig(), phones: bool = False) -> MouthModel:
    """Fit on (F, D) `frame_features` of the reference videos (concatenated) and their (F, K) lip
    coefficients (NaN rows = no face, skipped); `phones`: the features end with each video's own
    `viseme_features` (a phone model). Raises ValueError with fewer than 50 usable frames."""
    usable = np.isfinite(coefficients).all(axis=1)
    if usable.sum() < 50:
        raise ValueError(f"only {int(usable.sum())} frames with a face: too few to learn the mouth")
    features, targets = features[usable], coefficients[usable]
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    x = (features - mean) / scale
    cut = len(x) * (config.holdout_blocks - 1) // config.holdout_blocks
    centres = None
    if config.kernel == "rbf":
        centres, fits, bias = _kernel_ridge(x[:cut], targets[:cut], config.kernel_alphas, config.max_centres)
        held = gaussian_kernel(x[cut:], centres)
        best_r2, alpha = max((_r2(held @ w + bias, targets[cut:]), a) for w, a in zip(fits, config.kernel_alphas))
        centres, (weights,), bias = _kernel_ridge(x, targets, (alpha,), config.max_centres)
        fitted = gaussian_kernel(x, centres) @ weights + bias
    elif config.kernel == "linear":
        scores = [(_r2(x[cut:] @ w + b, targets[cut:]), a) for a in config.alphas
                  for w, b in [_ridge(x[:cut], targets[:cut], a)]]
        best_r2, alpha = max(scores)
        weights, bias = _ridge(x, targets, alpha)
        fitted = x @ weights + bias
    else:
        raise ValueError(f"unknown mouth model kernel {config.kernel!r}: 'rbf' or 'linear'")
    gain = np.sqrt(targets.std(axis=0) / np.maximum(fitted.std(axis=0), 1e-6))
    return MouthModel(feature_mean=mean, feature_scale=scale, weights=weights, bias=bias, output_gain=gain,
                      alpha=alpha, validation_r2=best_r2, config=config, phones=phones, centres=centres)
