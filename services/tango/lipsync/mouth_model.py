"""The speaker mouth model: audio in, the speaker's own lip shape out. Trained at ingest, any language.

Features: log-mel spectrogram (20 bands, 25 ms windows every 10 ms) of the 16 kHz speech; for video frame
i (centre time (i + 0.5) / fps) the mel frames within +-`context_s` (every `stride`-th one) are stacked,
with their per-band deviations from the utterance mean (so the model hears changes, not the microphone),
into one vector; optionally followed by the slow context (`slow_context`: the mean deviation over 0.2-s bins
at the frame and two bins either side, +-0.5 s), how the speech runs over a second. Model: kernel ridge
regression (`MouthModelConfig.kernel` "rbf", the default) from the standardised vector to the whitened PCA
coefficients of the lip shape (`mouth_shape.ShapeBasis`), trained on the reference's own (audio, lips) frames
where a face was meshed. The kernel is the Gaussian exp(-|a - b|^2 / D) of the standardised D-vectors (the
usual 1 / D width, fixed a priori): the lips are not a linear function of the log spectrum (the same energy
in a band goes with an open vowel or a closed nasal, depending on the rest of the spectrum), and kernel
ridge predicts a frame's lips from those of the training frames that sound alike. The training frames are
its centres (exact kernel ridge) up to `max_centres`; beyond, that many evenly spaced frames are the
centres of a Nystroem fit (all frames still fit the weights), so a long reference costs O(F M^2), not
O(F^3). "linear" is the plain ridge of the standardised vector (the model before).
Chosen per speaker, inside the training frames (`fit_mouth_model`): the ridge strength, and whether the slow
context is heard, by the lip error across `holdout_blocks` time blocks each held out in turn, every
coefficient weighted by the lip variance it carries. Some speakers' lips follow their head turns and
expressions more than the phones (the 22 s speaker: the training frames' mean mouth alone reduces the LMD by
27 %), and those go with how the speech runs over a second; others' follow the phones, and the slow context
only blurs which frames sound alike. Fold-honest on held-out spans (`tango lipsync eval`, 5 folds, source
"both"): the 22 s speaker's LMD reduction 28.8 % with the near context alone and the ridge strength picked on
the last block (the model before), 27.7 % cross-validated, 31.5 % with the slow context (chosen in all five
folds); the German anchor's 37.2 / 37.7 / 37.7 % (the slow context chosen in none).
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

Small (M x D centres and M x K weights; D = 220 by default, 320 with the slow context, 65 more with phones)
and closed-form: training on a few hundred frames takes well under a second (both feature sets, cross-validated:
550 frames 0.3 s, 9000 frames with 1000 centres 3.2 s on 2 cores), inference is one kernel
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
    slow_bin_s: float = 0.2  # the slow context: the mean log-mel deviation over bins this long, centred on
    slow_bins: int = 2  # the frame and this many bins either side (+-0.5 s); 0: no slow context
    alphas: tuple[float, ...] = (1e2, 1e3, 1e4, 1e5)  # ridge strengths tried
    holdout_blocks: int = 5  # time blocks of the training frames, each validating a fit on the others in turn
    viseme_context: int = 2  # video frames either side whose viseme a phone model hears
    kernel: str = "rbf"  # "rbf": kernel ridge with a Gaussian kernel; "linear": ridge (`alphas`)
    kernel_alphas: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # kernel ridge strengths tried
    max_centres: int = 1000  # kernel centres at most (more training frames: a Nystroem fit)

    @property
    def context_frames(self) -> int:
        return int(round(self.context_s / self.hop_s))

    def feature_count(self, slow: bool = False) -> int:
        """Columns of `frame_features`: the near mel context, plus the slow context's bins."""
        near = (2 * self.context_frames // self.stride + 1) * self.mel_bands
        return near + ((2 * self.slow_bins + 1) * self.mel_bands if slow else 0)


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


def frame_features(speech: np.ndarray, n_frames: int, fps: float, config: MouthModelConfig,
                   slow: bool = False) -> np.ndarray:
    """(n_frames, D) stacked mel context of every video frame (edges replicated); `slow`: followed by the slow
    context (`slow_context`)."""
    mel = log_mel(speech, config)
    mel = mel - mel.mean(axis=0, keepdims=True)
    offsets = np.arange(-config.context_frames, config.context_frames + 1, config.stride)  # (C,)
    centre = np.round((np.arange(n_frames) + 0.5) / fps / config.hop_s).astype(np.int64)  # (n,)
    index = np.clip(centre[:, None] + offsets[None, :], 0, len(mel) - 1)  # (n, C)
    near = mel[index].reshape(n_frames, -1)  # (n, C * bands)
    return np.concatenate([near, slow_context(mel, centre, config)], axis=1) if slow else near


def slow_context(mel: np.ndarray, centre: np.ndarray, config: MouthModelConfig) -> np.ndarray:
    """(n, (2 b + 1) bands) float32: the mean of the (M, bands) mel deviations over bins of `slow_bin_s` centred
    on each frame's mel frame `centre` (n,) and on b = `slow_bins` bins either side, cut to the utterance. How
    loud and how bright the speech runs over a second, which goes with how the speaker holds her mouth (a smile,
    a tense jaw) more than any one phone does."""
    length = max(int(round(config.slow_bin_s / config.hop_s)), 1)
    total = np.concatenate([np.zeros((1, mel.shape[1])), np.cumsum(mel, axis=0, dtype=np.float64)])  # (M+1, bands)
    middle = centre[:, None] + length * np.arange(-config.slow_bins, config.slow_bins + 1)[None, :]  # (n, B)
    low = np.clip(middle - length // 2, 0, len(mel) - 1)
    high = np.clip(middle - length // 2 + length, low + 1, len(mel))
    means = (total[high] - total[low]) / (high - low)[..., None]  # (n, B, bands)
    return means.reshape(len(centre), -1).astype(np.float32)


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
    validation_r2: float  # cross-validated R^2 of the lips (coefficients weighted by `train_mouth_model`'s weights)
    config: MouthModelConfig = MouthModelConfig()
    phones: bool = False  # whether it also hears the frames' visemes (`viseme_features`)
    centres: np.ndarray | None = None  # (M, D) standardised features of the kernel's centres; None: linear
    slow: bool = False  # whether it also hears the slow context (`frame_features(..., slow=True)`)

    def predict(self, speech: np.ndarray, n_frames: int, fps: float, visemes: np.ndarray | None = None) -> np.ndarray:
        """(n_frames, K) whitened mouth-shape coefficients for the frames of a video at fps; a phone model
        needs the (n_frames,) visemes of the speech."""
        features = frame_features(speech, n_frames, fps, self.config, slow=self.slow)
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
                    "config": repr(dataclasses.astuple(self.config)), "phones": repr(self.phones),
                    "slow": repr(self.slow)}
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: Path | str, config: MouthModelConfig = MouthModelConfig()) -> "MouthModel":
        try:
            with safe_open(str(path), framework="np") as stored:  # the tensors, and what it hears
                tensors = {name: stored.get_tensor(name) for name in stored.keys()}
                metadata = stored.metadata() or {}
                phones, slow = metadata.get("phones") == "True", metadata.get("slow") == "True"
        except Exception as exc:  # safetensors raises its own error types for bad headers
            raise CheckpointMismatch(f"cannot read mouth model {path}: {exc}") from exc
        dims = config.feature_count(slow) + (viseme_feature_count(config) if phones else 0)
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
        return cls(alpha=0.0, validation_r2=float("nan"), config=config, phones=phones, slow=slow, **tensors)


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
    return _Nystroem.on(x, max_centres).fit(y, alphas)


@dataclasses.dataclass(frozen=True)
class _Nystroem:
    """The kernel products of a Nystroem fit on standardised x (N, D), M evenly spaced frames its centres: made once
    and shared by the cross-validation, the fit and its fitted values (the (N, M) kernel is the costly part: 0.6 s
    at 9000 x 1000 on 2 cores)."""

    centres: np.ndarray  # (M, D)
    cross: np.ndarray  # (N, M) K_nm
    inner: np.ndarray  # (M, M) K_mm
    normal: np.ndarray  # (M, M) K_mn K_nm

    @classmethod
    def on(cls, x: np.ndarray, count: int) -> "_Nystroem":
        centres = _nystroem_centres(x, count)
        cross = gaussian_kernel(x, centres)
        return cls(centres, cross, gaussian_kernel(centres, centres), cross.T @ cross)

    def fit(self, y: np.ndarray, alphas: tuple[float, ...]) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """Centres, weights (M, K) per ridge strength and bias (K,): (K_mn K_nm + alpha K_mm) w = K_mn (y - mean)."""
        y_mean = y.mean(axis=0)
        rhs = self.cross.T @ (y - y_mean)
        return self.centres, [np.linalg.solve(self.normal + alpha * self.inner + _jitter(self.inner), rhs)
                              for alpha in alphas], y_mean


def _nystroem_centres(x: np.ndarray, count: int) -> np.ndarray:
    return x[np.linspace(0, len(x) - 1, count).round().astype(np.int64)]


def _jitter(inner: np.ndarray) -> np.ndarray:
    return 1e-8 * np.trace(inner) / len(inner) * np.eye(len(inner))


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


def train_mouth_model(features: np.ndarray, coefficients: np.ndarray,
                      config: MouthModelConfig = MouthModelConfig(), phones: bool = False, slow: bool = False,
                      weights: np.ndarray | None = None) -> MouthModel:
    """Fit on (F, D) `frame_features` of the reference videos (concatenated) and their (F, K) lip
    coefficients (NaN rows = no face, skipped); `slow`: the features hold the slow context; `phones`: they end
    with each video's own `viseme_features` (a phone model). The ridge strength is the one that predicts the
    lips best across `holdout_blocks` time blocks (each held out in turn), the error of coefficient k weighted by
    weights[k] (the lip variance it carries; None: alike). Raises ValueError with fewer than 50 usable frames."""
    usable = np.isfinite(coefficients).all(axis=1)
    if usable.sum() < 50:
        raise ValueError(f"only {int(usable.sum())} frames with a face: too few to learn the mouth")
    if config.kernel not in ("rbf", "linear"):
        raise ValueError(f"unknown mouth model kernel {config.kernel!r}: 'rbf' or 'linear'")
    features, targets = features[usable], coefficients[usable]
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    x = (features - mean) / scale
    weights = np.ones(targets.shape[1]) if weights is None else np.asarray(weights, np.float64)
    alphas = config.kernel_alphas if config.kernel == "rbf" else config.alphas
    nystroem = _Nystroem.on(x, config.max_centres) if config.kernel == "rbf" and len(x) > config.max_centres else None
    squared = _held_out_errors(x, targets, alphas, config, nystroem)  # (A, K)
    total = np.sum((targets - targets.mean(axis=0)) ** 2, axis=0)
    r2 = 1.0 - squared @ weights / max(float(total @ weights), 1e-12)  # (A,)
    best = int(np.argmax(r2))
    if nystroem is None:
        centres, weight, bias = _fit(x, targets, alphas[best], config)
        fitted = (x if centres is None else gaussian_kernel(x, centres)) @ weight + bias
    else:
        centres, (weight,), bias = nystroem.fit(targets, (alphas[best],))
        fitted = nystroem.cross @ weight + bias
    gain = np.sqrt(targets.std(axis=0) / np.maximum(fitted.std(axis=0), 1e-6))
    return MouthModel(feature_mean=mean, feature_scale=scale, weights=weight, bias=bias, output_gain=gain,
                      alpha=alphas[best], validation_r2=float(r2[best]), config=config, phones=phones,
                      centres=centres, slow=slow)


def _held_out_errors(x: np.ndarray, y: np.ndarray, alphas: tuple[float, ...], config: MouthModelConfig,
                     nystroem: _Nystroem | None = None) -> np.ndarray:
    """(A, K) squared error of each coefficient over `holdout_blocks` time blocks, each predicted by the fit on
    the others, per ridge strength. A Nystroem kernel (more frames than `max_centres`; `nystroem`: its products on
    x, made here when not given) keeps the whole fit's centres (frames' audio, never their lips) in every fold and
    takes the held-out block's rows out of its kernel products, so that the folds cost one set of products (9000
    frames, both feature sets: 4.9 -> 3.2 s on 2 cores)."""
    block = np.arange(len(x)) * config.holdout_blocks // len(x)
    squared = np.zeros((len(alphas), y.shape[1]))
    if config.kernel == "rbf" and len(x) > config.max_centres:
        nystroem = nystroem or _Nystroem.on(x, config.max_centres)
        cross, inner, normal = nystroem.cross, nystroem.inner, nystroem.normal  # (N, M), (M, M), (M, M)
        moment, column_sums = cross.T @ y, cross.sum(axis=0)
        for held in range(config.holdout_blocks):
            out = block == held
            rows, mean = cross[out], y[~out].mean(axis=0)
            system = normal - rows.T @ rows + _jitter(inner)
            rhs = moment - rows.T @ y[out] - np.outer(column_sums - rows.sum(axis=0), mean)  # K_mn (y - mean)
            for k, alpha in enumerate(alphas):
                predicted = rows @ np.linalg.solve(system + alpha * inner, rhs) + mean
                squared[k] += np.sum((predicted - y[out]) ** 2, axis=0)
        return squared
    for held in range(config.holdout_blocks):
        fit = block != held
        for k, predicted in enumerate(_fits(x[fit], y[fit], x[~fit], alphas, config)):
            squared[k] += np.sum((predicted - y[~fit]) ** 2, axis=0)
    return squared


def _fits(x: np.ndarray, y: np.ndarray, queries: np.ndarray, alphas: tuple[float, ...],
          config: MouthModelConfig) -> list[np.ndarray]:
    """Predictions at `queries` of the fits on (x, y), one per ridge strength."""
    if config.kernel == "rbf":
        centres, fits, bias = _kernel_ridge(x, y, alphas, config.max_centres)
        kernel = gaussian_kernel(queries, centres)
        return [kernel @ w + bias for w in fits]
    return [queries @ w + b for w, b in (_ridge(x, y, a) for a in alphas)]


def _fit(x: np.ndarray, y: np.ndarray, alpha: float,
         config: MouthModelConfig) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Centres (None: linear), weights and bias of the fit on (x, y) at one ridge strength."""
    if config.kernel == "rbf":
        centres, (weights,), bias = _kernel_ridge(x, y, (alpha,), config.max_centres)
        return centres, weights, bias
    return None, *_ridge(x, y, alpha)


def fit_mouth_model(features: np.ndarray, coefficients: np.ndarray, config: MouthModelConfig = MouthModelConfig(),
                    weights: np.ndarray | None = None, visemes: np.ndarray | None = None) -> MouthModel:
    """The speaker's mouth model from (F, D) `frame_features(..., slow=True)` and (F, K) lip coefficients (see
    `train_mouth_model`); `visemes` (F, V'): the frames' `viseme_features`, for a phone model. It is trained with
    and without the slow context and keeps the one that cross-validates better: a speaker whose mouth follows
    how she speaks over a second (the 22 s speaker) gains from it, one whose mouth follows the phones alone (the
    German anchor) is only distracted by it."""
    near = features[:, : config.feature_count()]
    choices = ((False, near), (True, features)) if config.slow_bins > 0 else ((False, near),)
    heard = () if visemes is None else (visemes,)
    models = [train_mouth_model(np.concatenate([part, *heard], axis=1), coefficients, config,
                                phones=visemes is not None, slow=slow, weights=weights) for slow, part in choices]
    return max(models, key=lambda model: model.validation_r2)
