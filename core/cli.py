"""Command line: `python -m core COMMAND ...` (audit, train, predict, promote, rollback, champions, publish, ...).

User errors print one line and exit 2, argparse's own included; unexpected
failures print one line and exit 1 (`--debug` shows the traceback).
TensorFlow is imported only by the commands that train, and only once every
option has been checked: nothing is written for a run that cannot start.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from core.config import (
    AUGMENT_MODES,
    BASELINE,
    FLIP_MODES,
    LOSSES,
    MODEL_NAMES,
    PRECISIONS,
    DataOptions,
    TrainConfig,
)
from core.errors import CoreError, InvalidInput
from core.inputs.charts import describe_augmentation
from core.inputs.preprocess import NORMALISATIONS
from core.settings import Settings
from core.store import remote

DEMO_IMAGE_SIZE = 128


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like every other user error (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.7,0.15,0.15, got {text!r}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.7,0.15,0.15, got {text!r}")
    return parts


def _bandpass(text: str) -> tuple[float, float] | None:
    """`--bandpass`: 'none', or LOW,HIGH in Hz (SoundPreprocessing checks the range)."""
    if text.strip().lower() == "none":
        return None
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected none or two frequencies like 25,400, got {text!r}") from None
    return low, high


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="PATH",
        help="a folder with one sub-folder per class, or a CSV manifest with path,label[,group] "
        "columns (paths relative to the CSV); repeat to combine sources",
    )
    group.add_argument(
        "--label-map",
        metavar="OLD=NEW,...",
        help="rename or merge labels, e.g. mild=hearing_loss,severe=hearing_loss",
    )
    group.add_argument(
        "--group-column", default="group", help="manifest column naming the patient or site (default: group)"
    )
    group.add_argument(
        "--group-pattern",
        metavar="REGEX",
        help="regex over file names whose first capture group names the group, for files without a group "
        "column, e.g. '^(.*?)_(?:jpg|jpeg|JPG)\\.rf\\.' or '^(N\\d+)'",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m core",
        description="Train and audit medical image and sound classifiers. Decision support and research "
        "only; not a medical device.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="{audit,train,predict,promote,rollback,champions,publish,operating-point,cache,demo}",
    )

    audit = commands.add_parser("audit", help="check a dataset: counts, unreadable files, duplicates, imbalance")
    _add_data_options(audit)
    audit.add_argument("--json", action="store_true", help="print the full report as JSON")

    train = commands.add_parser("train", help="train models side by side and write a run under ARTIFACTS_DIR")
    _add_data_options(train)
    _add_training_options(train)

    predict = commands.add_parser(
        "predict", help="classify images or recordings with a trained model (LiteRT, no TensorFlow)"
    )
    predict.add_argument("files", nargs="*", metavar="FILE", help="images or recordings, of the model's modality")
    predict.add_argument("--run", help="run id (default: the champion's)")
    predict.add_argument("--model", help="model name within --run (default: the champion's)")
    predict.add_argument("--json", action="store_true", help="print a JSON list, one object per file")
    batch = predict.add_argument_group("batch (one CSV row per file; a rerun resumes where it stopped)")
    batch.add_argument("--folder", type=Path, help="every image or recording under this folder")
    batch.add_argument("--manifest", type=Path, help="a CSV with a path column (paths relative to the CSV)")
    batch.add_argument("--out", type=Path, metavar="CSV", help="where the rows go (needed with --folder, --manifest)")
    batch.add_argument("--workers", type=int, help="worker processes (default: every core)")

    _add_serving_commands(commands)
    _add_cache_command(commands)
    demo = commands.add_parser("demo", help="generate synthetic audiograms and heart sounds, and train on both")
    demo.add_argument("--per-class", type=int, default=40, help="files per class (default: 40)")
    demo.add_argument("--epochs", type=int, default=15, help="most epochs per model (default: 15)")
    demo.add_argument(
        "--models", default="custom_cnn,mobilenet_v2", help="comma-separated models (default: custom_cnn,mobilenet_v2)"
    )
    demo.add_argument(
        "--weights",
        default="imagenet",
        help="imagenet, none or a path (default: imagenet, or random weights when they cannot be downloaded)",
    )
    demo.add_argument("--seed", type=int, default=42, help="seed for data and training (default: 42)")
    demo.add_argument("--data-only", action="store_true", help="generate the data without training")
    return parser


def _add_serving_commands(commands: argparse._SubParsersAction) -> None:
    promote = commands.add_parser(
        "promote", help="make RUN/MODEL the champion the prediction app serves (checked by the guardrails)"
    )
    promote.add_argument("run", metavar="RUN")
    promote.add_argument("model", metavar="MODEL")
    promote.add_argument("--reason", required=True, help="why this model should be served (recorded)")
    promote.add_argument("--force", action="store_true", help="promote despite the guardrails' concerns (recorded)")
    rollback = commands.add_parser("rollback", help="serve the previous champion (or any earlier one) again")
    rollback.add_argument("--reason", required=True, help="why (recorded)")
    rollback.add_argument(
        "--to", type=int, metavar="ID", help="the champion-history entry to serve again (`champions` lists them)"
    )
    commands.add_parser("champions", help="list the champion history, newest first, with the ids --to takes")
    publish = commands.add_parser(
        "publish", help="upload a run trained here to the object-storage ARTIFACTS_DIR (after a failed upload)"
    )
    publish.add_argument("folder", type=Path, help="the local folder the run was trained in (the error named it)")
    publish.add_argument("run", help="run id")
    point = commands.add_parser(
        "operating-point", help="save a new version of RUN/MODEL's threshold and review band; served at once"
    )
    point.add_argument("run", metavar="RUN")
    point.add_argument("model", metavar="MODEL")
    point.add_argument("--threshold", type=float, help="positive-class threshold (two classes only)")
    point.add_argument("--band", type=_band, metavar="LO,HI", help="review band (default: the version in force)")
    point.add_argument("--note", required=True, help="why this operating point (recorded)")


def _add_cache_command(commands: argparse._SubParsersAction) -> None:
    cache = commands.add_parser(
        "cache", help="list the input cache's folders (INPUT_CACHE_DIR): size, parameters, last use"
    )
    action = cache.add_mutually_exclusive_group()
    action.add_argument(
        "--prune",
        action="store_true",
        help="remove folders until the cache fits INPUT_CACHE_MAX_GB: those made by other preprocessing code "
        "first, then the least recently used",
    )
    action.add_argument("--clear", action="store_true", help="remove every folder no running training reads")


def _band(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers like 0.25,0.35, got {text!r}") from None
    return low, high


def _add_training_options(train: argparse.ArgumentParser) -> None:
    _add_dataset_options(train.add_argument_group("dataset handling"))
    defaults = TrainConfig()
    _add_model_options(train.add_argument_group("models and optimisation"), defaults)
    _add_transfer_options(train.add_argument_group("transfer learning and augmentation"), defaults)
    _add_preprocessing_options(train.add_argument_group("preprocessing"))


def _add_dataset_options(data: argparse._ArgumentGroup) -> None:
    data.add_argument("--name", help="dataset name shown in the dashboards (default: the first --data folder's name)")
    data.add_argument(
        "--split",
        type=_fractions,
        default=(0.7, 0.15, 0.15),
        metavar="TRAIN,VAL,TEST",
        help="split fractions (default: 0.7,0.15,0.15)",
    )
    data.add_argument(
        "--cv",
        type=int,
        metavar="K",
        help="grouped K-fold cross-validation (K >= 2): out-of-fold figures for every item, the K fold models "
        "served as one ensemble; --split's validation share is carved from each fold's training part (default: off)",
    )
    data.add_argument(
        "--positive-class",
        help="class that 'sensitivity' refers to, for two classes (default: the one not named like normal/healthy)",
    )


def _add_model_options(models: argparse._ArgumentGroup, defaults: TrainConfig) -> None:
    models.add_argument(
        "--models",
        default=",".join(defaults.models),
        help=f"comma-separated, from {', '.join(MODEL_NAMES)} (default: {','.join(defaults.models)}); "
        f"the {BASELINE} (hand-crafted features and gradient boosting) is always trained too, first, "
        "and every other model is compared with it",
    )
    models.add_argument("--epochs", type=int, default=defaults.epochs, help=f"most epochs (default: {defaults.epochs})")
    models.add_argument("--batch-size", type=int, default=defaults.batch_size, help=f"default: {defaults.batch_size}")
    models.add_argument(
        "--learning-rate",
        type=float,
        default=defaults.learning_rate,
        help=f"Adam's rate (default: {defaults.learning_rate})",
    )
    models.add_argument(
        "--patience",
        type=int,
        default=defaults.patience,
        help=f"early-stopping patience in epochs (default: {defaults.patience})",
    )
    models.add_argument(
        "--loss",
        choices=LOSSES,
        default=defaults.loss,
        help="cross_entropy, or auroc: a pairwise ranking surrogate for two classes (default: cross_entropy)",
    )
    models.add_argument("--seed", type=int, default=defaults.seed, help=f"default: {defaults.seed}")
    models.add_argument(
        "--target-sensitivity",
        type=float,
        metavar="S",
        help="two classes: pick the threshold on validation as the highest reaching this "
        "sensitivity (default: Youden's J)",
    )
    models.add_argument(
        "--bootstrap-resamples",
        type=int,
        default=defaults.bootstrap_resamples,
        help=f"resamples for confidence intervals and paired tests (default: {defaults.bootstrap_resamples})",
    )
    models.add_argument(
        "--no-blend",
        dest="blend",
        action="store_false",
        help=f"do not make <model>_blend, each model's probabilities averaged with the {BASELINE}'s, evaluated and "
        "servable like any model (default: made for every model but the baseline, from predictions, no training)",
    )


def _add_transfer_options(transfer: argparse._ArgumentGroup, defaults: TrainConfig) -> None:
    transfer.add_argument(
        "--weights",
        default=defaults.weights,
        metavar="imagenet|none|PATH",
        help="backbone weights: imagenet (downloaded by Keras when online), none, a weights file, "
        "or a folder of Keras' '*_notop.h5' files (default: imagenet)",
    )
    transfer.add_argument(
        "--cache-views",
        type=int,
        default=defaults.cache_views,
        help="views per item whose frozen-backbone features are cached: the original plus "
        f"augmented ones (default: {defaults.cache_views})",
    )
    transfer.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=defaults.fine_tune_epochs,
        help="epochs of fine-tuning the top backbone layers after the head; 0 skips it (default: 0)",
    )
    transfer.add_argument(
        "--fine-tune-layers",
        type=int,
        default=defaults.fine_tune_layers,
        help=f"weighted backbone layers to unfreeze (default: {defaults.fine_tune_layers})",
    )
    transfer.add_argument(
        "--flip",
        choices=FLIP_MODES,
        default=defaults.flip,
        help="image flips of the standard augmentation (mild, which auto picks for charts, never flips) "
        "(default: horizontal)",
    )
    transfer.add_argument(
        "--augment",
        choices=AUGMENT_MODES,
        default=defaults.augment,
        help="augmentation strength: auto (mild when the training images look like charts or documents, else "
        "standard; the run records its choice), standard (images: flips, rotation, shifts, zoom, brightness, "
        "contrast; sounds: SpecAugment), mild (images: small shifts and zoom only, for charts such as audiograms; "
        "sounds: time shift and gain only) or none (default: auto)",
    )
    transfer.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=defaults.precision,
        help="auto: mixed precision on GPUs with tensor cores, float32 on CPUs; float32; or mixed (needs a GPU). "
        "The saved and exported model is float32 either way (default: auto)",
    )


def _add_preprocessing_options(prep: argparse._ArgumentGroup) -> None:
    prep.add_argument("--image-size", type=int, default=224, help="square image input side in pixels (default: 224)")
    prep.add_argument(
        "--sample-rate", type=int, default=4000, help="recordings are resampled to this rate (default: 4000)"
    )
    prep.add_argument("--window-seconds", type=float, default=5.0, help="window length in seconds (default: 5)")
    prep.add_argument("--overlap", type=float, default=0.25, help="window overlap fraction (default: 0.25)")
    prep.add_argument("--n-mels", type=int, default=64, help="mel bands (default: 64)")
    prep.add_argument("--n-fft", type=int, default=512, help="FFT size in samples (default: 512)")
    prep.add_argument("--hop-length", type=int, default=128, help="samples between frames (default: 128)")
    prep.add_argument("--fmin", type=float, default=20.0, help="lowest mel frequency in Hz (default: 20)")
    prep.add_argument(
        "--fmax", type=float, default=None, help="highest mel frequency in Hz (default: half the sample rate)"
    )
    prep.add_argument(
        "--aggregation",
        choices=("mean", "max"),
        default="mean",
        help="how window probabilities combine into a recording's (default: mean)",
    )
    prep.add_argument(
        "--bandpass",
        type=_bandpass,
        default=None,
        metavar="LOW,HIGH|none",
        help="zero-phase Butterworth band-pass in Hz applied to each recording before windowing (default: none)",
    )
    prep.add_argument(
        "--normalisation",
        choices=NORMALISATIONS,
        default="window",
        help="how a recording's gain is removed: each window to its own peak, the whole recording to its peak, "
        "or a per-recording z-score of the log-mel (default: window)",
    )


def _data_options(args: argparse.Namespace):
    from core.data.dataset import parse_label_map

    return DataOptions(
        sources=tuple(args.data),
        label_map=parse_label_map(args.label_map),
        group_column=args.group_column,
        group_pattern=args.group_pattern,
        positive_class=getattr(args, "positive_class", None),
        split=getattr(args, "split", (0.7, 0.15, 0.15)),
        name=getattr(args, "name", None),
        cv=getattr(args, "cv", None),
    )


INTERVAL_FIGURES = ("test_auc", "test_balanced_accuracy", "test_sens_at_90_spec")  # printed with their 95% intervals


def _print_results(run_id: str, results, location: str) -> None:
    """The run's test figures per model, then in words what they do not show: skill, or a win over the baseline."""
    print(f"run {run_id} written to {location}")
    columns = [
        c
        for c in (
            "model",
            *INTERVAL_FIGURES,
            "test_sensitivity",
            "test_specificity",
            "threshold",
            "ece",
            "best_epoch",
            "train_seconds",
            "litert_ok",
        )
        if c in results.columns
    ]
    if "level" in results.columns and len(results):
        level, n = results["level"].iloc[0], results["test_n"].iloc[0]
        folds = results["cv_folds"].iloc[0] if "cv_folds" in results.columns else None
        what = "test figures" if folds is None or folds != folds else f"out-of-fold ({int(folds)}-fold CV) figures"
        print(f"{what} per {level} (n={n}); AUROC, balanced accuracy and sensitivity at 90% specificity [95% interval]")
        if what != "test figures":
            print(
                "threshold-dependent figures cross-fitted (each fold called by rules fitted on the other folds); "
                "served: the fold models' ensemble"
            )
    shown = results.assign(**{c: _with_interval(results, c) for c in INTERVAL_FIGURES if c in results.columns})
    print(shown[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for line in _blends(results) + _verdicts(results):
        print(line)


def _with_interval(results, column: str) -> list[str]:
    """`value [low, high]` per row, from `column` and its `_low`/`_high` columns where the results have them."""
    low, high = f"{column}_low", f"{column}_high"
    cells = []
    for row in results.to_dict(orient="records"):
        value = row.get(column)
        text = "-" if value is None or value != value else f"{value:.3f}"
        if row.get(low) is not None and row.get(low) == row.get(low):
            text += f" [{row[low]:.3f}, {row[high]:.3f}]"
        cells.append(text)
    return cells


def _blends(results) -> list[str]:
    """What each blend in the table is, in one line: the reader sees no model called that in --models."""
    rows = results.to_dict(orient="records") if "blend_of" in results.columns else []
    return [
        f"{row['model']}: {' and '.join(row['blend_of'])}, probabilities averaged"
        for row in rows
        if isinstance(row["blend_of"], list)
    ]


def _verdicts(results) -> list[str]:
    """One plain sentence per model that shows no skill, and per model that does not significantly beat the baseline."""
    lines = []
    for row in results.to_dict(orient="records"):
        if row.get("no_evidence_of_skill"):
            lines.append(
                f"{row['model']}: no evidence of skill (its test AUROC's 95% interval includes 0.5); "
                "it is never chosen as champion automatically, and promoting it needs --force"
            )
        beats = row.get("beats_baseline")
        if beats in (True, False):  # None (NaN in a frame) for the baseline itself
            verdict = "" if beats else f"{row['model']} does not significantly beat the baseline: "
            lines.append(verdict + row["versus_baseline"])
    return lines


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Print the report; exit 2 when a folder cannot be read, as training would refuse it."""
    from core.data.audit import audit_dataset
    from core.data.dataset import load_dataset

    options = _data_options(args)
    dataset = load_dataset(
        options.sources,
        label_map=options.label_map,
        group_column=options.group_column,
        group_pattern=options.group_pattern,
        allow_unreadable_folders=True,
    )
    report, _, _ = audit_dataset(dataset)
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.summary_lines()))
    if report.unreadable_folders:
        count = len(report.unreadable_folders)
        raise InvalidInput(f"{count} folder(s) cannot be read, such as {report.unreadable_folders[0]['path']}")
    return 0


def _train_options(args: argparse.Namespace) -> tuple[DataOptions, TrainConfig, dict]:
    """Every training option, checked by the objects that hold it, before any data is read."""
    from core.inputs.preprocess import ImagePreprocessing, SoundPreprocessing

    config = TrainConfig(
        models=tuple(name.strip() for name in args.models.split(",") if name.strip()),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        loss=args.loss,
        weights=args.weights,
        cache_views=args.cache_views,
        fine_tune_epochs=args.fine_tune_epochs,
        fine_tune_layers=args.fine_tune_layers,
        flip=args.flip,
        augment=args.augment,
        precision=args.precision,
        seed=args.seed,
        target_sensitivity=args.target_sensitivity,
        bootstrap_resamples=args.bootstrap_resamples,
        blend=args.blend,
    )
    sound = SoundPreprocessing(
        sample_rate=args.sample_rate,
        window_seconds=args.window_seconds,
        overlap=args.overlap,
        n_mels=args.n_mels,
        n_fft=args.n_fft,
        hop_length=args.hop_length,
        fmin=args.fmin,
        fmax=args.fmax,
        aggregation=args.aggregation,
        bandpass_hz=args.bandpass,
        normalisation=args.normalisation,
    )
    return _data_options(args), config, {"image": ImagePreprocessing(image_size=args.image_size), "sound": sound}


def _cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    data, config, preprocessing = _train_options(args)
    from core.store.artifacts import read_json
    from core.store.layout import ArtifactsLayout
    from core.training.devices import training_devices
    from core.training.run import train_run

    devices = training_devices(config.precision)  # --precision mixed without a GPU stops here, before any data is read
    with remote.training_folder(settings) as folder:
        run_id, results = train_run(
            data,
            config,
            artifacts_dir=folder,
            input_cache=settings.input_cache_dir,
            input_cache_max_bytes=settings.input_cache_max_bytes,
            **preprocessing,
        )
        augmentation = read_json(ArtifactsLayout(folder).run(run_id).config)["augmentation"]
        _print_results(run_id, results, remote.published(settings, folder, run_id))
        print(f"augmentation: {describe_augmentation(augmentation)}")
        print(f"trained on {devices.describe()}")
    return 0


def _cmd_cache(args: argparse.Namespace, settings: Settings) -> int:
    """List the input cache, or prune or clear it and say what went and what stayed."""
    from core.training import cache_folders

    root, bound = settings.input_cache_dir, settings.input_cache_max_bytes
    if args.clear or args.prune:
        removed, kept = cache_folders.clear(root) if args.clear else (cache_folders.evict(root, bound), [])
        busy = f"; {len(kept)} kept: a running training reads them, or they cannot be removed (warned)" if kept else ""
        freed = cache_folders.size_text(cache_folders.total(removed))
        print(f"removed {len(removed)} folder(s) of {root}, {freed}{busy}")
    print("\n".join(cache_folders.listing(root, bound, settings.display_timezone)))
    return 0


def _cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    if settings.artifacts_store is None:
        raise CoreError("ARTIFACTS_DIR is a folder, not object storage: runs trained there are already served")
    url = remote.publish(settings.artifacts_store, args.folder, args.run)
    print(f"run {args.run} published to {url}; {args.folder} may be deleted")
    return 0


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from core.data.demo import generate_demo_data, imagenet_or_random

    folders = generate_demo_data(settings.demo_data_dir, per_class=args.per_class, seed=args.seed)
    print(f"synthetic demo data written to {settings.demo_data_dir}")
    if args.data_only:
        return 0
    from functools import partial

    from core.inputs.preprocess import ImagePreprocessing, SoundPreprocessing
    from core.store.examples import export_examples
    from core.training.run import check_models, train_run

    models = tuple(name.strip() for name in args.models.split(",") if name.strip())
    image = ImagePreprocessing(image_size=DEMO_IMAGE_SIZE)
    runs = [
        (
            folders["audiograms"],
            image,
            TrainConfig(
                models=models, epochs=args.epochs, weights=args.weights, flip="none", augment="mild", seed=args.seed
            ),
        ),
        (
            folders["heart_sounds"],
            SoundPreprocessing(),
            TrainConfig(models=models, epochs=args.epochs, weights=args.weights, seed=args.seed),
        ),
    ]
    for source, params, asked in runs:
        config = imagenet_or_random(asked, partial(check_models, input_shape=params.input_shape))
        with remote.training_folder(settings) as folder:
            run_id, results = train_run(
                DataOptions(sources=(str(source),)),
                config,
                artifacts_dir=folder,
                image=image,
                input_cache=settings.input_cache_dir,
                input_cache_max_bytes=settings.input_cache_max_bytes,
            )
            export_examples(folder, run_id, per_class=2)
            _print_results(run_id, results, remote.published(settings, folder, run_id))
    _promote_demo(settings, run_id)
    return 0


def _promote_demo(settings: Settings, run_id: str) -> None:
    """Serve the last demo run's best model by validation AUROC: an explicit promotion, like any other.

    Synthetic data trained briefly may not pass the guardrails; the demo
    promotes anyway, and says so (the override is recorded).
    """
    from core.store.registry import best_model, promote

    model = best_model(settings.artifacts_dir, run_id)
    if model is None:
        print(f"no model of run {run_id} can be served with evidence of skill; nothing promoted")
        return
    entry = promote(
        settings.artifacts_dir, _serving_state(settings), run_id, model, reason="demo", user=_os_user(), force=True
    )
    forced = " despite the guardrails' concerns (recorded)" if entry["forced"] else ""
    print(f"champion is now {run_id}/{model}{forced}")


def _describe(path: str, prediction) -> list[str]:
    warnings = [f"  warning: {text}" for text in prediction.warnings]
    if prediction.out_of_distribution:
        source = f"{prediction.run_id}/{prediction.model}"
        return [
            f"{path}: NOT LIKE THE TRAINING DATA: no result ({source})",
            f"  reason: {prediction.ood_reason}",
            *warnings,
        ]
    verdict = "UNCERTAIN: refer for specialist review" if prediction.uncertain else prediction.predicted
    share = prediction.probabilities[prediction.predicted]
    lines = [f"{path}: {verdict} ({prediction.predicted} {share:.2f}; {prediction.run_id}/{prediction.model})"]
    lines.append("  probabilities: " + ", ".join(f"{k} {v:.3f}" for k, v in prediction.probabilities.items()))
    return [*lines, *warnings]


def _cmd_predict(args: argparse.Namespace, settings: Settings) -> int:
    from core.serving.service import PredictionService, model_key

    if args.run and not args.model:
        raise CoreError("give --model together with --run")
    if sum(map(bool, (args.files, args.folder, args.manifest))) != 1:
        raise CoreError("give files, --folder DIR or --manifest CSV (one of them)")
    if (args.folder or args.manifest) and not args.out:
        raise CoreError("give --out CSV with --folder or --manifest: where the rows go")
    if args.workers is not None and args.workers < 1:
        raise CoreError(f"--workers must be 1 or more, got {args.workers}")
    service = PredictionService(settings)
    predictor = service.predictor(model_key(args.run, args.model) if args.run else None)
    point = service.operating_point(predictor)
    if args.out:
        return _predict_batch(args, settings, predictor, point)
    return _predict_files(args.files, predictor, point, as_json=args.json)


def _predict_files(files: Sequence[str], predictor, point, *, as_json: bool) -> int:
    from core.data.dataset import file_problem

    results, failures = [], 0
    for path in files:
        try:
            problem = file_problem(Path(path))  # a named pipe would block the read forever
            if problem is not None:
                raise InvalidInput(problem)
            prediction = predictor.predict(Path(path), operating_point=point)
        except (CoreError, OSError) as exc:
            failures += 1
            message = str(exc) if isinstance(exc, CoreError) else f"cannot read file ({exc.strerror or exc})"
            results.append({"file": path, "error": message})
            if not as_json:
                print(f"{path}: error: {message}")
            continue
        results.append({"file": path, **prediction.to_dict()})
        if not as_json:
            print("\n".join(_describe(path, prediction)))
    if as_json:
        print(json.dumps(results, indent=2))
    return 2 if failures else 0


def _predict_batch(args: argparse.Namespace, settings: Settings, predictor, point) -> int:
    """Files, a folder or a manifest into `--out`; exit 2 when a file of this run was refused (see its row)."""
    from core.serving import batch

    if args.folder:
        inputs = batch.folder_inputs(args.folder)
    elif args.manifest:
        inputs = batch.manifest_inputs(args.manifest)
    else:
        inputs = [batch.BatchInput(path, Path(path)) for path in args.files]
    model = batch.BatchModel(settings, predictor.run_id, predictor.model_name, point)
    try:
        counts = batch.predict_batch(inputs, args.out, model, predictor.class_names, workers=args.workers)
    except KeyboardInterrupt:
        raise CoreError(f"interrupted: the rows so far are in {args.out}; run the same command to go on") from None
    written = ", ".join(f"{counts[name]} {name}" for name in batch.OUTCOMES if counts[name])
    print(
        f"{args.out}: {sum(counts[name] for name in batch.OUTCOMES)} rows written ({written or 'none'}), "
        f"{counts['already written']} already there; {predictor.run_id}/{predictor.model_name}, "
        f"operating point version {point.version}"
    )
    return 2 if counts["refused"] else 0


def _os_user() -> str | None:
    """Who runs the command, recorded with each change of serving state."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _serving_state(settings: Settings):
    from core.store.database import open_database
    from core.store.serving_state import ServingState

    return ServingState(open_database(settings.audit_database_url))


def _cmd_promote(args: argparse.Namespace, settings: Settings) -> int:
    from core.store.registry import promote

    state = _serving_state(settings)
    entry = promote(
        settings.artifacts_dir, state, args.run, args.model, reason=args.reason, user=_os_user(), force=args.force
    )
    forced = " (forced past the guardrails; recorded)" if entry["forced"] else ""
    print(f"champion is now {entry['run_id']}/{entry['model']}{forced}")
    return 0


def _cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    from core.store.registry import rollback

    state = _serving_state(settings)
    entry = rollback(settings.artifacts_dir, state, reason=args.reason, user=_os_user(), to=args.to)
    print(f"champion is now {entry['run_id']}/{entry['model']} again")
    return 0


def _cmd_champions(_args: argparse.Namespace, settings: Settings) -> int:
    history = _serving_state(settings).champion_history()
    if not history:
        print("no champion has been promoted yet")
    for entry in history:
        forced = " (forced)" if entry["forced"] else ""
        model, user = f"{entry['run_id']}/{entry['model']}{forced}", entry["user"] or "unknown user"
        print(f"{entry['id']:>4}  {entry['created_at']}  {model}  by {user}: {entry['reason']}")
    return 0


def _cmd_operating_point(args: argparse.Namespace, settings: Settings) -> int:
    from core.store.registry import operating_point_in_force, save_operating_point

    state = _serving_state(settings)
    current = operating_point_in_force(settings.artifacts_dir, state, args.run, args.model)
    saved = save_operating_point(
        settings.artifacts_dir,
        state,
        args.run,
        args.model,
        threshold=current["threshold"] if args.threshold is None else args.threshold,
        review_band=args.band or tuple(current["review_band"]),
        user=_os_user(),
        note=args.note,
    )
    low, high = saved["review_band"]
    threshold = "none" if saved["threshold"] is None else f"{saved['threshold']:g}"
    print(
        f"{args.run}/{args.model}: operating point version {saved['version']} in force: "
        f"threshold {threshold}, review band {low:g}-{high:g}"
    )
    return 0


COMMANDS = {
    "audit": _cmd_audit,
    "train": _cmd_train,
    "predict": _cmd_predict,
    "promote": _cmd_promote,
    "rollback": _cmd_rollback,
    "champions": _cmd_champions,
    "publish": _cmd_publish,
    "operating-point": _cmd_operating_point,
    "cache": _cmd_cache,
    "demo": _cmd_demo,
}


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        settings = settings or Settings.from_env()
    except CoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings.mirror()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.debug:
        logging.getLogger("core").setLevel(logging.DEBUG)
    try:
        return COMMANDS[args.command](args, settings)
    except CoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1
