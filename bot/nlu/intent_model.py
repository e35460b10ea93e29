"""shopbot's intent model: a logistic regression on word and character n-grams.

No Rasa in here: ``bot/intent_classifier.py`` wraps it as a Rasa NLU component, and the tests use
it directly. Why it replaced DIET for intents is measured in bench/REPORT.md
("NLU 5-fold cross-validation"): on the same folds it gets more intents right, and when it is wrong
it is less sure, so the FallbackClassifier catches more of its mistakes.

A message is read as

- its words (lower case) and pairs of neighbouring words, and its character 1–4-grams within
  words, each weighted by tf-idf (log of the count, rarer terms weigh more);
- with every match of the training data's regexes (order numbers, e-mails, SKUs, RMA numbers)
  replaced by the regex's name first: "104233" and "105120" are the same thing to the intent,
  while their digits would otherwise be n-grams of their own;
- and, with ``meaning_weight`` > 0, its meaning: the sentence embedding of the text
  (analytics/text_encoder.py, 384 numbers of unit length) times ``meaning_weight``, beside the
  n-grams. It carries what was learnt to wordings the training data never had ("where is my
  parcel" / "track my order"); the weight sets how much it counts against the n-grams.

The fitted model is saved as plain arrays and JSON (no pickle): loading a model runs no code
from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.nlu.regex_matches import RegexMatches

WORDS = r"(?u)\b\w+\b"  # one-letter words too ("I", "a"): "I do" is not "do"
FORMAT = 2  # 2: the meaning features (meaning_weight)


class Placeholders:
    """Replaces every match of the named patterns by the pattern's name (without underscores),
    longest match first where two overlap (``RegexMatches``)."""

    def __init__(self, patterns: dict[str, str]) -> None:
        self._matches = RegexMatches(patterns)

    def __call__(self, text: str) -> str:
        out, pos = [], 0
        for start, end, name in self._matches(text):
            out += [text[pos:start], f" {name.replace('_', '')} "]
            pos = end
        out.append(text[pos:])
        return "".join(out).lower()


def _vectorizers(preprocess: Placeholders):
    common = dict(preprocessor=preprocess, sublinear_tf=True, dtype=np.float64)
    return (
        TfidfVectorizer(analyzer="word", token_pattern=WORDS, ngram_range=(1, 2), **common),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), **common),
    )


@dataclass
class IntentModel:
    """Fit with :meth:`fit`, rank intents with :meth:`rank`, save with :meth:`save`."""

    patterns: dict[str, str] = field(default_factory=dict)
    C: float = 30.0
    meaning_weight: float = 0.0
    classes: list[str] = field(default_factory=list)
    _word: TfidfVectorizer | None = None
    _char: TfidfVectorizer | None = None
    _coef: np.ndarray | None = None
    _intercept: np.ndarray | None = None
    _telling: np.ndarray | None = None  # char n-grams that are more than spaces
    _by_feature: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see _blocks

    def __post_init__(self) -> None:
        self._preprocess = Placeholders(self.patterns)

    def _meaning(self, texts: Sequence[str], embeddings: np.ndarray | None) -> np.ndarray | None:
        """The weighted sentence embeddings of ``texts`` (computed unless given), or None when
        the model reads no meaning."""
        if not self.meaning_weight:
            return None
        if embeddings is None:
            from analytics.text_encoder import encode

            embeddings = encode(texts)
        embeddings = np.asarray(embeddings, dtype=np.float64)
        if embeddings.shape[0] != len(texts):
            raise ValueError(f"{embeddings.shape[0]} embeddings for {len(texts)} texts")
        return embeddings * self.meaning_weight

    def _scores(
        self, texts: Iterable[str], embeddings: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The class scores of ``texts``, and whether each text has any feature that says
        something (a known word, or a known character n-gram other than the spaces around
        every word)."""
        texts = list(texts)
        words, chars = self._word.transform(texts).tocsr(), self._char.transform(texts).tocsr()
        telling = self._telling[chars.indices]
        known = (np.diff(words.indptr) > 0) | np.array(
            [telling[a:b].any() for a, b in zip(chars.indptr[:-1], chars.indptr[1:])], dtype=bool
        )
        by_words, by_chars, by_meaning = self._blocks()
        scores = words @ by_words + chars @ by_chars + self._intercept
        meaning = self._meaning(texts, embeddings)
        if meaning is not None:
            scores = scores + meaning @ by_meaning
        return np.asarray(scores), known

    def _blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The coefficients of the words, the characters and the meaning, each one contiguous
        (features × classes) array, made once: multiplying by a slice of the whole matrix would
        copy that slice (megabytes) for every message."""
        if self._by_feature is None:
            n_words = len(self._word.vocabulary_)
            n_chars = len(self._char.vocabulary_)
            coef = self._coef
            self._by_feature = tuple(
                np.ascontiguousarray(block.T)
                for block in (
                    coef[:, :n_words],
                    coef[:, n_words : n_words + n_chars],
                    coef[:, n_words + n_chars :],
                )
            )
        return self._by_feature

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        seed: int = 42,
        embeddings: np.ndarray | None = None,
    ) -> IntentModel:
        """Fits on ``texts`` and their ``labels``; ``embeddings`` are the texts' sentence
        embeddings if already computed (else, with ``meaning_weight``, computed here)."""
        if not texts or len(set(labels)) < 2:
            raise ValueError("an intent model needs examples of at least two intents")
        texts = list(texts)
        word, char = _vectorizers(self._preprocess)
        parts = [word.fit_transform(texts), char.fit_transform(texts)]
        meaning = self._meaning(texts, embeddings)
        if meaning is not None:
            parts.append(sparse.csr_matrix(meaning))
        x = sparse.hstack(parts).tocsr()
        self._use_vectorizers(word, char)
        clf = LogisticRegression(
            C=self.C, class_weight="balanced", max_iter=5000, random_state=seed
        ).fit(x, list(labels))
        self.classes = [str(c) for c in clf.classes_]
        self._coef, self._intercept, self._by_feature = clf.coef_, clf.intercept_, None
        return self

    def _use_vectorizers(self, word: TfidfVectorizer, char: TfidfVectorizer) -> None:
        """Takes fitted vectorizers, and notes which character n-grams are more than spaces."""
        self._word, self._char = word, char
        self._telling = np.array([bool(term.strip()) for term in char.get_feature_names_out()])

    def probabilities(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(probability of each class per text, whether the text had any known feature)."""
        if self._coef is None:
            raise RuntimeError("the intent model is not fitted")
        scores, known = self._scores(texts, embeddings)
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True), known

    def rank(self, text: str, top: int = 10) -> list[tuple[str, float]]:
        """The ``top`` most likely intents, best first; none for a message with nothing the
        model knows (no words, only unknown characters): any intent then would be a guess."""
        probs, known = self.probabilities([text])
        if not known[0]:
            return []
        order = np.argsort(-probs[0], kind="stable")[: top or None]
        return [(self.classes[i], float(probs[0][i])) for i in order]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "C": self.C,
            "meaning_weight": self.meaning_weight,
            "patterns": self.patterns,
            "classes": self.classes,
            "word_vocabulary": self._word.vocabulary_,
            "char_vocabulary": self._char.vocabulary_,
        }
        (folder / "intent_model.json").write_text(json.dumps(meta), encoding="utf-8")
        np.savez_compressed(
            folder / "intent_model.npz",
            word_idf=self._word.idf_,
            char_idf=self._char.idf_,
            coef=self._coef,
            intercept=self._intercept,
        )

    @classmethod
    def load(cls, folder: Path) -> IntentModel:
        meta = json.loads((folder / "intent_model.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"intent model format {meta.get('format')!r}, expected {FORMAT}")
        model = cls(
            patterns=meta["patterns"],
            C=meta["C"],
            meaning_weight=meta["meaning_weight"],
            classes=meta["classes"],
        )
        arrays = np.load(folder / "intent_model.npz", allow_pickle=False)
        word, char = _vectorizers(model._preprocess)
        for vectorizer, vocabulary, idf in (
            (word, meta["word_vocabulary"], arrays["word_idf"]),
            (char, meta["char_vocabulary"], arrays["char_idf"]),
        ):
            vectorizer.vocabulary = {term: int(i) for term, i in vocabulary.items()}
            vectorizer.idf_ = idf  # also fixes the vocabulary (sklearn's setter)
        model._use_vectorizers(word, char)
        model._coef, model._intercept = arrays["coef"], arrays["intercept"]
        return model
