"""NLU cross-validation through Rasa's own `rasa test nlu`, summarised as a few numbers."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

from bot.rasa_model import ROOT, rasa_bin, rasa_env


def cross_validate(folds: int = 5, out_dir: Path | None = None) -> dict:
    """Runs `rasa test nlu --cross-validation` and returns intent macro-F1, FAQ response
    selection accuracy and entity F1, plus where the full reports are."""
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="shopbot-nlu-"))
    cmd = [
        rasa_bin(),
        "test",
        "nlu",
        "--nlu",
        "data",
        "--config",
        "config.yml",
        "--cross-validation",
        "--folds",
        str(folds),
        "--out",
        str(out_dir),
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=rasa_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"rasa test nlu failed:\n{proc.stderr[-3000:]}")
    intents = json.loads((out_dir / "intent_report.json").read_text())
    result = {
        "folds": folds,
        "seconds": round(time.perf_counter() - started, 1),
        "intent_macro_f1": intents["macro avg"]["f1-score"],
        "intent_weighted_f1": intents["weighted avg"]["f1-score"],
        "intent_accuracy": intents.get("accuracy"),
        "per_intent_f1": {
            k: v["f1-score"]
            for k, v in intents.items()
            if isinstance(v, dict)
            and "support" in v
            and k not in {"macro avg", "weighted avg", "micro avg"}
        },
        "reports": str(out_dir),
    }
    selector = out_dir / "response_selection_report.json"
    if selector.exists():
        rs = json.loads(selector.read_text())
        result["faq_accuracy"] = rs.get("accuracy", rs.get("micro avg", {}).get("f1-score"))
        result["faq_macro_f1"] = rs.get("macro avg", {}).get("f1-score")
    entities = out_dir / "DIETClassifier_report.json"
    if entities.exists():
        ent = json.loads(entities.read_text())
        result["entity_macro_f1"] = ent.get("macro avg", {}).get("f1-score")
    return result
