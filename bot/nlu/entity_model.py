"""shopbot's entity tagger: a linear-chain CRF over a message's tokens, outside TensorFlow.

No Rasa in here: ``bot/nlu/entity_tagger.py`` wraps it as a Rasa NLU component, and the tests use
it directly. Why it replaced DIET for entities is measured in bench/REPORT.md ("Entities: shopbot's
CRF tagger"): as accurate on the held-out messages, and a fraction of DIET's cost per message,
which was mostly TensorFlow's overhead for one short message.

A message is cut into tokens, where every match of the training data's regexes (order numbers,
SKUs, e-mails, RMA numbers) is one token of its own, and each token is read as

- its word (lower case), its first three and last two and three letters, its shape ("Xxx",
  "d", "XXX-d") and its length;
- the regex that matched it, and the lookup table (categories) its word is in, if any;
- the same for the two tokens before and after it, and the pairs of neighbouring words.

A CRF (python-crfsuite, which Rasa itself installs) tags the tokens B-/I-entity or O; a run of
tokens of one entity is one entity. The fitted model is crfsuite's own file plus JSON (no pickle).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pycrfsuite

from bot.nlu.regex_matches import RegexMatches

FORMAT = 1
WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
NUMBER_WORDS = frozenset(
    "a an one two three four five six seven eight nine ten eleven twelve "
    "couple few several half dozen".split()
)


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    regex: str = ""  # the name of the regex this token is a match of


@dataclass(frozen=True)
class Entity:
    entity: str
    start: int
    end: int
    value: str


def _shape(text: str) -> str:
    """The shape of a token, runs of one kind of character as one: "Blue" → "Xx", "104233" → "d",
    "HOM-0001" → "X-d"."""
    shape = re.sub(r"[A-Z]+", "X", text)
    shape = re.sub(r"[a-z]+", "x", shape)
    return re.sub(r"\d+", "d", shape)


class Tokenizer:
    """Cuts a text into tokens: regex matches whole (``RegexMatches``), the rest into words and
    single punctuation marks."""

    def __init__(self, patterns: dict[str, str]) -> None:
        self._matches = RegexMatches(patterns)

    def __call__(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        pos = 0
        for start, end, name in self._matches(text):
            tokens += self._words(text, pos, start)
            tokens.append(Token(text[start:end], start, end, name))
            pos = end
        return tokens + self._words(text, pos, len(text))

    @staticmethod
    def _words(text: str, start: int, end: int) -> list[Token]:
        return [
            Token(m.group(), start + m.start(), start + m.end())
            for m in WORD.finditer(text[start:end])
        ]


@dataclass
class EntityModel:
    """Fit with :meth:`fit`, tag with :meth:`entities`, save with :meth:`save`."""

    patterns: dict[str, str] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    c1: float = 0.01  # L1 and L2 regularisation of the CRF
    c2: float = 0.01
    max_iterations: int = 200
    _tagger: pycrfsuite.Tagger | None = None
    _model_bytes: bytes = b""

    def __post_init__(self) -> None:
        self._tokenize = Tokenizer(self.patterns)
        self._lookup = {
            word.lower(): name for name, words in self.lookups.items() for word in words
        }

    # -- features ----------------------------------------------------------------------------

    def _lookup_of(self, word: str) -> str:
        if word in self._lookup:
            return self._lookup[word]
        if word.endswith("s") and word[:-1] in self._lookup:
            return self._lookup[word[:-1]]
        return ""

    def _own(self, token: Token) -> dict[str, str]:
        word = token.text.lower()
        return {
            "w": word,
            "shape": _shape(token.text),
            "rx": token.regex,
            "lk": self._lookup_of(word),
            "num": "1" if word.isdigit() or word in NUMBER_WORDS else "",
        }

    def features(self, tokens: Sequence[Token]) -> list[dict[str, float | str]]:
        own = [self._own(t) for t in tokens]
        out = []
        for i, token in enumerate(tokens):
            word = own[i]["w"]
            f: dict[str, float | str] = {
                "bias": 1.0,
                "pre3": word[:3],
                "suf3": word[-3:],
                "suf2": word[-2:],
                "len": str(min(len(word), 8)),
                "title": "1" if token.text[:1].isupper() else "",
                **own[i],
            }
            for off in (-2, -1, 1, 2):
                j = i + off
                if 0 <= j < len(tokens):
                    f.update({f"{off}:{k}": v for k, v in own[j].items()})
                else:
                    f[f"{off}:edge"] = 1.0
            if i > 0:
                f["-1|0"] = f"{own[i - 1]['w']}|{word}"
            if i + 1 < len(tokens):
                f["0|+1"] = f"{word}|{own[i + 1]['w']}"
            out.append({k: v for k, v in f.items() if v != ""})
        return out

    # -- fitting and tagging -----------------------------------------------------------------

    @staticmethod
    def tags(tokens: Sequence[Token], entities: Sequence[tuple[str, int, int]]) -> list[str]:
        """B-/I-/O tags of ``tokens`` for ``entities`` given as (entity, start, end): a token is
        in an entity when they overlap."""
        tags = ["O"] * len(tokens)
        for name, start, end in entities:
            inside = [i for i, t in enumerate(tokens) if t.start < end and t.end > start]
            for n, i in enumerate(inside):
                tags[i] = f"{'B' if n == 0 else 'I'}-{name}"
        return tags

    def fit(
        self, texts: Sequence[str], entities: Sequence[Sequence[tuple[str, int, int]]]
    ) -> EntityModel:
        """Fits on ``texts`` and their entities, each a list of (entity, start, end)."""
        trainer = pycrfsuite.Trainer(verbose=False)
        for text, spans in zip(texts, entities):
            tokens = self._tokenize(text)
            if tokens:
                trainer.append(self._crf_items(tokens), self.tags(tokens, spans))
        trainer.set_params(
            {
                "c1": self.c1,
                "c2": self.c2,
                "max_iterations": self.max_iterations,
                "feature.possible_transitions": True,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "crf.model"
            trainer.train(str(path))
            self._use(path.read_bytes())
        return self

    def _crf_items(self, tokens: Sequence[Token]) -> pycrfsuite.ItemSequence:
        return pycrfsuite.ItemSequence(self.features(tokens))

    def _use(self, model: bytes) -> None:
        self._model_bytes = model
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open_inmemory(model)

    def entities(self, text: str) -> list[Entity]:
        """The entities of ``text``, in order; each a run of tokens tagged with one entity."""
        if self._tagger is None:
            raise RuntimeError("the entity model is not fitted")
        tokens = self._tokenize(text)
        if not tokens:
            return []
        runs: list[list] = []  # [entity, start, end] of each run of tokens
        inside = False  # whether the token before was in an entity
        for token, tag in zip(tokens, self._tagger.tag(self._crf_items(tokens))):
            kind, _, name = tag.partition("-")
            if kind == "I" and inside and runs[-1][0] == name:
                runs[-1][2] = token.end
            elif kind in ("B", "I"):
                runs.append([name, token.start, token.end])
            inside = kind in ("B", "I")
        return [Entity(name, start, end, text[start:end]) for name, start, end in runs]

    # -- persistence -------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        if self._tagger is None:
            raise RuntimeError("the entity model is not fitted")
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "patterns": self.patterns,
            "lookups": self.lookups,
            "c1": self.c1,
            "c2": self.c2,
            "max_iterations": self.max_iterations,
        }
        (folder / "entity_model.json").write_text(json.dumps(meta), encoding="utf-8")
        (folder / "entity_model.crfsuite").write_bytes(self._model_bytes)

    @classmethod
    def load(cls, folder: Path) -> EntityModel:
        meta = json.loads((folder / "entity_model.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"entity model format {meta.get('format')!r}, expected {FORMAT}")
        model = cls(
            patterns=meta["patterns"],
            lookups=meta["lookups"],
            c1=meta["c1"],
            c2=meta["c2"],
            max_iterations=meta["max_iterations"],
        )
        model._use((folder / "entity_model.crfsuite").read_bytes())
        return model
