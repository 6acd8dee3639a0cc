"""Out-of-distribution detection on a model's penultimate embedding: the reference and its scores.

A classifier's softmax is confident on inputs unlike anything it was trained
on (a throat photo sent to an audiogram model), so the probabilities cannot
tell such inputs apart. The features its classifier head sees can: inputs of
the training distribution fill a small region of that space.

The reference is a Gaussian model of the training embeddings, fitted with
NumPy and scikit-learn only (serving loads it without TensorFlow):

    standardise -> PCA (at most `MAX_COMPONENTS` axes)
    distance^2 = Mahalanobis^2 of the PCA scores (Ledoit-Wolf shrinkage covariance)
               + squared PCA residual / its mean per-dimension training variance

so an input far along the main axes of variation, or off them altogether,
is far. The distance is divided by the dimension to keep it near 1 for
typical training inputs. The threshold is calibrated on the validation split
(inputs the model did not train on) at a stated percentile, and an input's
score is its distance over that threshold: above 1 is out of distribution.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, fields

import numpy as np
from scipy import stats
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA

OOD_PERCENTILE = 99.0
MAX_COMPONENTS = 64
METHOD = "pca-mahalanobis-residual"


@dataclass(frozen=True)
class OodReference:
    """What a model's training embeddings look like, and how far is too far.

    Attributes:
        mean, scale: Per-feature mean and (floored) standard deviation of the training embeddings.
        components: (k, D) PCA axes of the standardised embeddings.
        location, precision: Mean and inverse shrinkage covariance of the training PCA scores.
        residual_variance: Mean per-dimension variance the PCA axes leave out, on training.
        threshold: Distance at `percentile` of the validation embeddings.
        percentile: The stated validation percentile.
        n_train, n_val: Embeddings the reference was fitted and calibrated on.
    """

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    location: np.ndarray
    precision: np.ndarray
    residual_variance: float
    threshold: float
    percentile: float
    n_train: int
    n_val: int

    def distances(self, embeddings: np.ndarray) -> np.ndarray:
        """Distance of each embedding (rows) from the training embeddings; about 1 for typical training inputs."""
        z = (np.asarray(embeddings, dtype=np.float64) - self.mean) / self.scale
        scores = z @ self.components.T
        residual = z - scores @ self.components
        centred = scores - self.location
        mahalanobis = np.einsum("ij,jk,ik->i", centred, self.precision, centred)
        squared = mahalanobis + (residual**2).sum(axis=1) / self.residual_variance
        return np.sqrt(squared / z.shape[1])

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Distance over the calibrated threshold: above 1 is out of distribution (NaN counts as above)."""
        scores = self.distances(embeddings) / self.threshold
        return np.where(np.isfinite(scores), scores, np.inf)

    def to_bytes(self) -> bytes:
        """The reference as an `.npz` file's bytes (plain arrays, loadable without pickle)."""
        buffer = io.BytesIO()
        np.savez(buffer, method=np.array(METHOD), **{f.name: np.asarray(getattr(self, f.name)) for f in fields(self)})
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> OodReference:
        """Read what `to_bytes` wrote.

        Raises:
            ValueError: not a reference of this method (damaged or from another version).
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                if str(stored["method"]) != METHOD:
                    raise ValueError(f"unknown out-of-distribution method {stored['method']}")
                values = {f.name: stored[f.name] for f in fields(cls)}
        except (zipfile.BadZipFile, EOFError, KeyError) as exc:
            raise ValueError(f"damaged out-of-distribution reference ({type(exc).__name__})") from None
        for name in ("residual_variance", "threshold", "percentile"):
            values[name] = float(values[name])
        values["n_train"], values["n_val"] = int(values["n_train"]), int(values["n_val"])
        return cls(**values)


def fit_reference(
    train: np.ndarray,
    val: np.ndarray,
    *,
    percentile: float = OOD_PERCENTILE,
    max_components: int = MAX_COMPONENTS,
) -> OodReference:
    """Fit the reference on training embeddings and calibrate its threshold on validation ones.

    Args:
        train: (n, D) embeddings of the training inputs (windows, for sounds).
        val: (m, D) embeddings of validation inputs, which the model did not train on.
        percentile: Share of validation inputs (in %) that must fall within the threshold.
        max_components: Most PCA axes kept; fewer with few training inputs, so
            the residual keeps an honest variance estimate.

    Raises:
        ValueError: fewer than 4 training embeddings or no validation ones.
    """
    train = np.asarray(train, dtype=np.float64)
    if len(train) < 4 or len(val) == 0:
        raise ValueError(f"need at least 4 training and 1 validation embeddings, got {len(train)} and {len(val)}")
    mean, variance = train.mean(axis=0), train.var(axis=0)
    # Features that barely vary in training (dead units) get a floor, so a tiny wobble is not a huge distance.
    scale = np.sqrt(variance + 0.01 * variance.mean() + 1e-12)
    z = (train - mean) / scale
    k = int(max(1, min(max_components, z.shape[1] - 1, len(train) // 4)))
    pca = PCA(n_components=k, svd_solver="full").fit(z)
    components = pca.components_
    scores = z @ components.T
    residual = z - scores @ components
    covariance = LedoitWolf().fit(scores)
    residual_variance = float(max((residual**2).sum(axis=1).mean() / max(1, z.shape[1] - k), 1e-6))
    reference = OodReference(
        mean=mean,
        scale=scale,
        components=components,
        location=covariance.location_,
        precision=covariance.precision_,
        residual_variance=residual_variance,
        threshold=1.0,
        percentile=float(percentile),
        n_train=len(train),
        n_val=len(val),
    )
    threshold = calibrated_threshold(reference.distances(val), percentile)
    return OodReference(**{**{f.name: getattr(reference, f.name) for f in fields(reference)}, "threshold": threshold})


def calibrated_threshold(distances: np.ndarray, percentile: float) -> float:
    """The distance below which `percentile`% of in-distribution inputs fall, from validation distances.

    The larger of the empirical percentile and a log-normal fit's: a small
    validation set has no item beyond its 99th percentile, and the fit
    extrapolates past its largest distance instead of stopping at it.
    """
    distances = np.asarray(distances, dtype=np.float64)
    distances = distances[np.isfinite(distances) & (distances > 0)]
    if len(distances) == 0:
        raise ValueError("no finite validation distance to calibrate on")
    empirical = float(np.percentile(distances, percentile, method="higher"))
    if len(distances) < 2:
        return empirical
    logs = np.log(distances)
    fitted = float(np.exp(logs.mean() + stats.norm.ppf(percentile / 100) * logs.std(ddof=1)))
    return max(empirical, fitted)


def input_scores(reference: OodReference, embeddings: np.ndarray, owners: np.ndarray | None = None) -> np.ndarray:
    """One score per input: per row, or with `owners` (each window's recording) per recording as `input_score`."""
    if owners is None:
        return reference.scores(embeddings)
    return np.array([input_score(reference, embeddings[owners == owner]) for owner in np.unique(owners)])


def summary(reference: OodReference, val_scores: np.ndarray, test_scores: np.ndarray) -> dict:
    """The report's `ood` entry: the method, its calibration, and the share of the model's own inputs flagged."""
    return {
        "method": METHOD,
        "percentile": reference.percentile,
        "threshold": reference.threshold,
        "components": int(len(reference.components)),
        "n_train": reference.n_train,
        "n_val": reference.n_val,
        "val_flagged": _share(val_scores),
        "test_flagged": _share(test_scores),
        "n_test": int(len(test_scores)),
    }


def _share(scores: np.ndarray) -> float:
    return float(np.mean(np.asarray(scores) > 1.0)) if len(scores) else 0.0


NO_REFERENCE = "no out-of-distribution reference for this model (trained before the check existed)"


@dataclass(frozen=True)
class OodJudgement:
    """Whether one input (an image, or a recording's windows) is like the training data.

    Attributes:
        out_of_distribution: True: unlike the training data, withhold the
            class; None: the model has no reference, so it was not judged.
        score: Distance over the threshold (a recording: its windows' median); above 1 is out.
        reason: A sentence saying why, for people.
    """

    out_of_distribution: bool | None
    score: float | None
    reason: str


def input_score(reference: OodReference, embeddings: np.ndarray) -> float:
    """One input's score: the median over a recording's windows, so a stray window cannot flag it."""
    return float(np.median(reference.scores(embeddings)))


def judge(reference: OodReference | None, embeddings: np.ndarray | None, *, modality: str) -> OodJudgement:
    """Judge one input from its embeddings (one row for an image, one per window for a recording)."""
    if reference is None or embeddings is None:
        return OodJudgement(None, None, NO_REFERENCE)
    window_scores = reference.scores(embeddings)
    score = input_score(reference, embeddings)
    flagged = score > 1.0
    unit = "windows" if modality == "sound" else "images"
    limit = f"the distance {reference.percentile:g}% of validation {unit} fall within"
    if modality == "sound":
        outside = int((window_scores > 1.0).sum())
        detail = f"{outside} of {len(window_scores)} windows lie beyond {limit}; median {score:.2f} times it"
    else:
        detail = f"its distance from the training images is {score:.2f} times {limit}"
    if flagged:
        return OodJudgement(True, score, f"unlike the training data: {detail}; the class is withheld")
    return OodJudgement(False, score, f"like the training data: {detail}")
