"""The TensorFlow-free predictor: one run's exported model with the run's exact preprocessing.

    decode -> quality gates and warnings (with a band-pass: sound in the band) -> preprocess (as recorded)
           -> runner (LiteRT, or the baseline's estimator)
           -> aggregate windows -> temperature -> threshold and review band
           -> out-of-distribution check: an input unlike the training data gets no class

The model and its preprocessing never change once a run is complete, so a
`Predictor` may be kept for the life of a process. The threshold and review
band may change at any time (`core.store.serving_state`), so they are given
to each `predict` call; without one, the run's fitted operating point
(version 0) decides.

Importing this module, loading a model and predicting never import
TensorFlow, so a serving worker starts fast and stays small.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from core.errors import Unavailable
from core.evaluation.decision import apply_temperature, predicted_classes
from core.evaluation.ood import OodJudgement, OodReference, judge
from core.inputs.preprocess import (
    ImagePreprocessing,
    Source,
    aggregate_windows,
    band_pass,
    decode_image,
    filtered_inputs,
    image_to_input,
    preprocessing_from_dict,
    read_audio,
    resample,
    resize_image,
)
from core.inputs.quality import check_band, check_image, check_kind, check_sound, image_warnings, sound_warnings
from core.serving.heatmap import deciding_windows, occlusion_map, stitch_windows
from core.serving.litert import EMBEDDING, PROBABILITIES
from core.serving.runner import open_runner
from core.store.artifacts import read_json
from core.store.layout import RunLayout
from core.store.serving_state import OperatingPoint

DISPLAY_ONLY = ("heatmap", "display", "explained_windows")  # what only the page's picture uses: never serialised
# A recording's heatmap explains at most this many windows, those that gave the called class its highest
# probabilities: each costs one occlusion map (50 model inputs), so a 15-minute recording (240 windows of 5 s)
# is explained in seconds, not minutes, and a recording of up to about 30 s is explained whole.
EXPLAINED_WINDOWS = 8


@dataclass
class Prediction:
    """One input's result.

    Attributes:
        probabilities: Calibrated probability per class name: the model's
            output, kept for the record; not a result when the class is withheld.
        predicted: The class called at the operating point. When the input is
            out of distribution this call is only the model's guess, kept for
            research use; it is never shown (`shown_class` and `to_dict` give None).
        uncertain: Refer for review: the probability fell inside the review
            band, the input is out of distribution (no class), or it could not
            be checked (a model without a reference cannot tell an input it
            can judge from one it cannot, so it never gives a confident answer).
        out_of_distribution: The input is unlike the model's training data,
            so no class is given; None when the model has no reference to
            judge with (exported before the check existed).
        ood_score: The input's distance from the training data over the
            calibrated limit (above 1: out of distribution); None if not judged.
        ood_reason: Why, as a sentence (also when not judged).
        review_band, threshold, operating_point_version: The operating point
            that decided, and its version (0: the run's fitted point).
        warnings: Input-quality problems, as sentences.
        heatmap: On request, heat in [0, 1] over `display` (the model-size image,
            or the stitched spectrogram of a recording), for the class called
            (`predicted`), which at a two-class threshold may not be the argmax.
        explained_windows: With a recording's heatmap, the (start, end) seconds
            of the windows it explains (`EXPLAINED_WINDOWS` at most, those that
            gave the called class its highest probabilities); elsewhere the heat
            is 0 because it was not computed, not because nothing mattered there.
        display: What the heatmap overlays: (size, size, 3) uint8 image, or
            (n_mels, frames) spectrogram in [0, 1].
        duration_seconds, n_windows: Sounds only.
    """

    run_id: str
    model: str
    modality: str
    class_names: list[str]
    probabilities: dict[str, float]
    predicted: str | None
    uncertain: bool
    review_band: list[float]
    threshold: float | None
    operating_point_version: int
    out_of_distribution: bool | None = None
    ood_score: float | None = None
    ood_reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    duration_seconds: float | None = None
    n_windows: int | None = None
    heatmap: np.ndarray | None = None
    display: np.ndarray | None = None
    explained_windows: list[list[float]] | None = None

    @property
    def shown_class(self) -> str | None:
        """The class a person may be shown: None when it is withheld (out of distribution)."""
        return None if self.out_of_distribution else self.predicted

    def to_dict(self) -> dict:
        """The one JSON form of a prediction (REST API, page, audit log): every field but `DISPLAY_ONLY`.

        `predicted` is `shown_class`: withheld (None) out of distribution.
        Fields are read, not deep-copied as `dataclasses.asdict` would, so the
        arrays are never copied only to be dropped.
        """
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in DISPLAY_ONLY}
        return {**values, "predicted": self.shown_class}


class Predictor:
    """Serve one model of one run.

    Args:
        run_dir: The run's folder under `ARTIFACTS_DIR/runs`.
        model: Model name within the run.
        review_band: (low, high) overriding the fitted operating point's; for two
            classes it applies to the positive class's probability, otherwise
            to the top probability.
        num_threads: LiteRT threads; None uses every core this process may run on.
            (The baseline's estimator is small and runs as scikit-learn decides.)
        max_image_pixels, max_audio_seconds: Inputs above these are refused
            before decoding (bounded memory per request).

    Raises:
        Unavailable: a file of the run or model is missing, damaged or not exported (the path is not shown).
    """

    def __init__(
        self,
        run_dir: Path | str,
        model: str,
        *,
        review_band: tuple[float, float] | None = None,
        num_threads: int | None = None,
        max_image_pixels: int | None = None,
        max_audio_seconds: float | None = None,
    ):
        layout = RunLayout(Path(run_dir))
        self.run_dir, self.run_id, self.model_name = layout.dir, layout.run_id, model
        self.max_image_pixels, self.max_audio_seconds = max_image_pixels, max_audio_seconds
        try:
            self._load(layout, review_band)
            threads = num_threads or len(os.sched_getaffinity(0))
            self.runner = open_runner(layout.model(model), num_threads=threads)
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            # A missing, truncated or wrong-shaped file: this model is unavailable; nothing else is affected.
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'damaged file'}"
            reason = reason.replace(str(layout.dir), f"run {self.run_id}")  # never show a server path
            raise Unavailable(f"run {self.run_id} model {model} cannot be served ({reason})") from None

    def _load(self, layout: RunLayout, review_band: tuple[float, float] | None) -> None:
        """Classes, preprocessing and the fitted operating point, from the run's files."""
        classes = read_json(layout.classes)
        self.params = preprocessing_from_dict(read_json(layout.preprocessing))
        report = read_json(layout.model(self.model_name).report)
        self.class_names: list[str] = classes["class_names"]
        positive = classes.get("positive_class")
        self.positive = None if positive is None else self.class_names.index(positive)
        headline = report["levels"][report["level"]]
        self.temperature = float(headline["temperature"])
        self.fitted = OperatingPoint.fitted(headline)
        if review_band is not None:
            self.fitted = replace(self.fitted, review_band=(float(review_band[0]), float(review_band[1])))
        self.quality_reference = read_json(layout.quality_reference) if layout.quality_reference.is_file() else None
        reference = layout.model(self.model_name).ood_reference
        self.ood_reference = OodReference.from_bytes(reference.read_bytes()) if reference.is_file() else None

    @property
    def modality(self) -> str:
        return self.params.modality

    def _decide(self, probs: np.ndarray, point: OperatingPoint) -> tuple[str, bool]:
        index = int(predicted_classes(probs[None, :], positive=self.positive, threshold=point.threshold)[0])
        score = probs[self.positive] if self.positive is not None else probs.max()
        low, high = point.review_band
        return self.class_names[index], bool(low <= score <= high) if self.positive is not None else bool(score < high)

    def predict(
        self, source: Source, *, heatmap: bool = False, operating_point: OperatingPoint | None = None
    ) -> Prediction:
        """Classify one image or recording (a path or the file's bytes).

        Args:
            source: The input.
            heatmap: Also compute the occlusion heatmap.
            operating_point: The threshold and review band to decide with;
                None: the run's fitted point.

        Raises:
            CoreError: the input cannot be decoded as this model's modality.
        """
        if isinstance(self.params, ImagePreprocessing):
            probs, extras = self._predict_image(source)
        else:
            probs, extras = self._predict_sound(source)
        ood = self._judge(extras.pop("embeddings"))
        calibrated = apply_temperature(probs[None, :], self.temperature)[0]
        point = operating_point or self.fitted
        predicted, uncertain = self._decide(calibrated, point)
        inputs, starts, window_probs = (extras.pop(key, None) for key in ("inputs", "start_frames", "windows"))
        if heatmap:  # what drove the class called at the operating point, not the argmax it may differ from
            extras |= self._heatmap(inputs, starts, window_probs, self.class_names.index(predicted))
        return Prediction(
            run_id=self.run_id,
            model=self.model_name,
            modality=self.modality,
            class_names=self.class_names,
            probabilities={name: float(p) for name, p in zip(self.class_names, calibrated, strict=True)},
            predicted=predicted,
            uncertain=uncertain or ood.out_of_distribution is not False,  # unlike, or not checked: refer
            review_band=list(point.review_band),
            threshold=point.threshold,
            operating_point_version=point.version,
            out_of_distribution=ood.out_of_distribution,
            ood_score=ood.score,
            ood_reason=ood.reason,
            **extras,
        )

    def _judge(self, embeddings: np.ndarray | None) -> OodJudgement:
        """Whether the input (its embedding, or its windows' embeddings) is like the training data.

        Models exported before the check have no embedding output or no
        reference; they are served unchecked and the judgement says so.
        """
        if self.ood_reference is None or embeddings is None:
            return judge(None, None, modality=self.modality)
        return judge(self.ood_reference, embeddings, modality=self.modality)

    def _heatmap(
        self, inputs: np.ndarray, start_frames: np.ndarray | None, window_probs: np.ndarray | None, target: int
    ) -> dict:
        """Occlusion heat for class `target`: of the image; of a recording, of its deciding windows only.

        A recording's windows are ranked by their probability of `target` and
        the first `EXPLAINED_WINDOWS` explained, stitched on the display's time
        axis with their (start, end) seconds, so the cost is bounded whatever
        the length (the call and the probabilities are made before, unchanged).
        """
        if start_frames is None:
            return {"heatmap": occlusion_map(self.runner, inputs, target)}
        chosen = deciding_windows(window_probs[:, target], EXPLAINED_WINDOWS)
        maps = np.stack([occlusion_map(self.runner, inputs[i], target, fill=0.0) for i in chosen])
        frames = inputs.shape[2]
        heat = stitch_windows(maps, start_frames[chosen], total=int(start_frames.max()) + frames)
        seconds = self.params.hop_length / self.params.sample_rate
        spans = [[round(start_frames[i] * seconds, 2), round((start_frames[i] + frames) * seconds, 2)] for i in chosen]
        return {"heatmap": heat, "explained_windows": spans}

    def _predict_image(self, source: Source) -> tuple[np.ndarray, dict]:
        image = decode_image(source, max_pixels=self.max_image_pixels, size=self.params.image_size)
        pixels = resize_image(image, self.params.image_size)
        check_image(image, pixels)
        check_kind(pixels, self.quality_reference)
        x = image_to_input(pixels)
        outputs = self.runner.outputs(x[None])
        probs = outputs[PROBABILITIES][0]
        extras = {"warnings": image_warnings(image, pixels, reference=self.quality_reference), "display": pixels}
        return probs, {**extras, "inputs": x, "embeddings": outputs.get(EMBEDDING)}

    def _predict_sound(self, source: Source) -> tuple[np.ndarray, dict]:
        params = self.params
        signal, rate = read_audio(source, max_seconds=self.max_audio_seconds)
        check_sound(signal, rate, window_seconds=params.window_seconds)
        warnings = sound_warnings(signal, rate, window_seconds=params.window_seconds)
        resampled = resample(signal, rate, params.sample_rate)
        filtered = band_pass(resampled, params)
        if params.bandpass_hz is not None:
            check_band(filtered, params.sample_rate, params.bandpass_hz)
        windows, starts = filtered_inputs(filtered, params)
        outputs = self.runner.predict_outputs(windows)
        window_probs = outputs[PROBABILITIES]
        probs = aggregate_windows(window_probs, params.aggregation)
        start_frames = np.round(starts * params.sample_rate / params.hop_length)
        extras = {
            "warnings": warnings,
            "duration_seconds": round(len(signal) / rate, 3),
            "n_windows": int(len(windows)),
            "display": stitch_windows(windows[..., 0], start_frames),
        }
        arrays = {"inputs": windows, "start_frames": start_frames, "windows": window_probs}
        return probs, {**extras, **arrays, "embeddings": outputs.get(EMBEDDING)}
