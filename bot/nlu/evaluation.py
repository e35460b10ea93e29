"""NLU cross-validation, summarised as a few numbers.

The examples are split into k stratified folds (by full intent, FAQ sub-intents apart, as Rasa's
own `rasa test nlu --cross-validation` does, but from a fixed seed so that two configurations or
two versions of the data are compared on the same folds). Each fold is trained and tested by
Rasa's own commands (`rasa train nlu`, `rasa test nlu --successes`) in a process of its own,
``jobs`` folds at a time with the cores shared out between them; the scores are computed once
over the predictions of all folds, as Rasa does for its own cross-validation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.server.rasa_model import ROOT, rasa_bin, rasa_env

SUMMARY_ROWS = ("macro avg", "weighted avg", "micro avg", "accuracy")
NOT_ENTITY_REPORTS = ("intent_report.json", "response_selection_report.json")


def load_examples(config: Path, data: Path, domain: Path):
    """The NLU training data as Rasa reads it for training (responses from the domain)."""
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_nlu_importer_from_config(
        str(config), str(domain), [str(data)]
    )
    return importer.get_nlu_data()


def fallback_threshold(config: Path) -> float | None:
    """The FallbackClassifier's threshold in ``config``, if it has one."""
    import yaml

    for step in yaml.safe_load(config.read_text()).get("pipeline") or []:
        if step.get("name") == "FallbackClassifier":
            return float(step.get("threshold", 0.3))  # Rasa's default
    return None


def make_folds(labels: list[str], folds: int, seed: int) -> list[list[int]]:
    """Indices of the test examples of each fold: stratified by label, shuffled from ``seed``."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [sorted(test) for _, test in splitter.split(labels, labels)]


def write_folds(training_data, folds: int, seed: int, out_dir: Path) -> list[Path]:
    """Writes fold-N/train.yml and fold-N/test.yml (examples, regexes, lookup tables and
    synonyms; the FAQ answers stay in the domain); returns the fold folders."""
    from rasa.shared.nlu.training_data.training_data import TrainingData

    examples = training_data.intent_examples
    labels = [e.get_full_intent() for e in examples]
    dirs = []
    for n, test_idx in enumerate(make_folds(labels, folds, seed), start=1):
        held_out = set(test_idx)
        fold_dir = out_dir / f"fold-{n}"
        fold_dir.mkdir(parents=True, exist_ok=True)
        for name, chosen in (
            ("train.yml", [e for i, e in enumerate(examples) if i not in held_out]),
            ("test.yml", [examples[i] for i in test_idx]),
        ):
            part = TrainingData(
                training_examples=chosen,
                entity_synonyms=training_data.entity_synonyms,
                regex_features=training_data.regex_features,
                lookup_tables=training_data.lookup_tables,
            )
            (fold_dir / name).write_text(part.nlu_as_yaml(), encoding="utf-8")
        dirs.append(fold_dir)
    return dirs


def _run_fold(fold_dir: Path, config: Path, domain: Path, threads: int) -> float:
    env = rasa_env()
    env["TF_INTRA_OP_PARALLELISM_THREADS"] = str(threads)
    env["TF_INTER_OP_PARALLELISM_THREADS"] = "1"
    env["OMP_NUM_THREADS"] = str(threads)
    started = time.perf_counter()
    # A results folder left by an earlier run into the same --out would mix its files in.
    shutil.rmtree(fold_dir / "results", ignore_errors=True)
    steps = (
        [
            rasa_bin(),
            "train",
            "nlu",
            "--config",
            str(config),
            "--domain",  # the FAQ answers, for the ResponseSelector
            str(domain),
            "--nlu",
            str(fold_dir / "train.yml"),
            "--out",
            str(fold_dir),
            "--fixed-model-name",
            "model",
        ],
        [
            rasa_bin(),
            "test",
            "nlu",
            "--nlu",
            str(fold_dir / "test.yml"),
            "--model",
            str(fold_dir / "model.tar.gz"),
            "--out",
            str(fold_dir / "results"),
            "--successes",
        ],
    )
    with open(fold_dir / "rasa.log", "w") as log:
        for cmd in steps:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            if proc.returncode != 0:
                raise RuntimeError(f"{cmd[1]} {cmd[2]} failed for {fold_dir}; see {log.name}")
    return time.perf_counter() - started


def _read_rows(results: Path, kind: str) -> list[dict]:
    rows = []
    for outcome in ("successes", "errors"):
        path = results / f"{kind}_{outcome}.json"
        if path.exists():
            rows.extend(json.loads(path.read_text()))
    return rows


def summarise(
    intent_rows: list[dict], response_rows: list[dict], threshold: float | None = None
) -> dict:
    """Scores over all held-out predictions. Rows are those of Rasa's ``*_successes.json`` and
    ``*_errors.json`` files (``intent`` / ``intent_prediction.name``, and for the FAQ answers
    ``intent_response_key_target`` / ``intent_response_key_prediction.name``).

    With the FallbackClassifier's ``threshold``, also the share of wrong intents confident enough
    to be acted on, and of right ones below it (which the assistant would ask to rephrase); Rasa
    scores the top intent in either case."""
    from sklearn.metrics import classification_report

    truth = [r["intent"] for r in intent_rows]
    guess = [(r["intent_prediction"] or {}).get("name") or "" for r in intent_rows]
    report = classification_report(truth, guess, output_dict=True, zero_division=0)
    labels = set(truth)
    result = {
        "examples": len(truth),
        "intent_macro_f1": report["macro avg"]["f1-score"],
        "intent_weighted_f1": report["weighted avg"]["f1-score"],
        "intent_accuracy": report["accuracy"],
        "per_intent_f1": {
            k: v["f1-score"] for k, v in report.items() if k not in SUMMARY_ROWS and k in labels
        },
        "confusions": [
            [t, g, n] for (t, g), n in Counter(zip(truth, guess)).most_common() if t != g
        ][:15],
    }
    if threshold is not None and truth:
        confidence = [(r["intent_prediction"] or {}).get("confidence") or 0.0 for r in intent_rows]
        pairs = list(zip(truth, guess, confidence))
        result["fallback_threshold"] = threshold
        result["wrong_and_confident"] = sum(t != g and c >= threshold for t, g, c in pairs) / len(
            pairs
        )
        result["right_but_unsure"] = sum(t == g and c < threshold for t, g, c in pairs) / len(pairs)
    if response_rows:
        right = sum(
            r["intent_response_key_target"]
            == (r["intent_response_key_prediction"] or {}).get("name")
            for r in response_rows
        )
        result["faq_examples"] = len(response_rows)
        result["faq_accuracy"] = right / len(response_rows)
    return result


def cross_validate(
    folds: int = 5,
    out_dir: Path | None = None,
    jobs: int = 2,
    seed: int = 42,
    config: Path | str = "config.yml",
    data: Path | str = "data",
) -> dict:
    """Cross-validates the NLU pipeline of ``config`` on the NLU examples under ``data``."""
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="shopbot-nlu-")).resolve()
    config, data = (ROOT / config).resolve(), (ROOT / data).resolve()
    if not config.is_file():
        raise FileNotFoundError(f"no config file {config}")
    domain = ROOT / "domain.yml"
    started = time.perf_counter()
    fold_dirs = write_folds(load_examples(config, data, domain), folds, seed, out_dir)
    jobs = max(1, min(jobs, folds))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        fold_seconds = list(pool.map(lambda d: _run_fold(d, config, domain, threads), fold_dirs))
    intent_rows, response_rows, entity_f1 = [], [], []
    for d in fold_dirs:
        intent_rows += _read_rows(d / "results", "intent")
        response_rows += _read_rows(d / "results", "response_selection")
        # the entity extractor's report, named after it (ShopEntityTagger_report.json)
        for report in sorted((d / "results").glob("*_report.json")):
            scores = json.loads(report.read_text())
            if report.name not in NOT_ENTITY_REPORTS and "macro avg" in scores:
                entity_f1.append(scores["macro avg"]["f1-score"])
    result = summarise(intent_rows, response_rows, fallback_threshold(config))
    if entity_f1:
        result["entity_macro_f1_mean_of_folds"] = sum(entity_f1) / len(entity_f1)
    result.update(
        folds=folds,
        seed=seed,
        jobs=jobs,
        config=str(config),
        seconds=round(time.perf_counter() - started, 1),
        fold_seconds=[round(s, 1) for s in fold_seconds],
        reports=str(out_dir),
    )
    (out_dir / "summary.json").write_text(json.dumps(result, indent=2))
    return result
