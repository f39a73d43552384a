"""Statistical named-entity recogniser: a linear-chain CRF over word-type features, trained here.

Training (``main``) uses python-crfsuite on GermEval 2014 (CC BY 4.0) and exports the weights to
``data/ner_model.json``. At run time no CRF library is needed: every feature of a token is a feature
of one word type seen at an offset (-2..+2), so a word type's contribution to each label is summed once
and cached; tagging an article is then a few numpy gathers and a Viterbi pass over the stretches that
may hold an entity. That keeps the recogniser near a millisecond per article.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shared.messages import EntityType

DATA_DIR = Path(__file__).resolve().parent / "data"
MODEL_FILE = DATA_DIR / "ner_model.json"
NAMES_FILE = DATA_DIR / "person_names_faker.json"
COUNTRIES_FILE = DATA_DIR / "countries_cldr.json"
CITIES_FILE = DATA_DIR / "cities_geonames.json"
KNOWLEDGE_BASE_FILE = DATA_DIR / "knowledge_base.json"

ENTITY_TYPES: tuple[str, ...] = ("PER", "LOC", "ORG", "OTH")
LABELS: tuple[str, ...] = ("O", *(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I")))
OFFSETS = (-2, -1, 0, 1, 2)
BOUNDARY = "<s>"
# A token whose best label is O by at least this margin is taken as O without decoding.
O_MARGIN = 4.0
# Word types whose label scores are cached (the cache is cleared when it grows past this).
CACHE_LIMIT = 200_000

# Numbers, words (with inner hyphens, apostrophes, ampersands and dots as in "U.S" or "e.V"),
# then any other single character.
TOKEN_PATTERN = re.compile(r"\d+(?:[.,]\d+)*|\w+(?:[-'\u2019&.]\w+)*|\S")

FloatArray = npt.NDArray[np.float64]


def tokenize(text: str) -> list[tuple[int, int]]:
    """Token spans (start, end) of ``text``."""
    return [match.span() for match in TOKEN_PATTERN.finditer(text)]


def shape(word: str) -> str:
    """Character classes of a word with runs collapsed: "Putin" -> "Xx", "OVKS-Mitglied" -> "X-Xx"."""
    classes: list[str] = []
    for char in word:
        if char.isupper():
            cls = "X"
        elif char.islower():
            cls = "x"
        elif char.isdigit():
            cls = "d"
        else:
            cls = char
        if not classes or classes[-1] != cls:
            classes.append(cls)
    return "".join(classes)[:6]


@dataclass(frozen=True)
class Lexicons:
    """Word lists the recogniser sees as features (built from the vendored gazetteers)."""

    first_names: frozenset[str]
    last_names: frozenset[str]
    places: frozenset[str]
    org_words: frozenset[str]
    person_words: frozenset[str]


@cache
def lexicons() -> Lexicons:
    names = json.loads(NAMES_FILE.read_text(encoding="utf-8"))
    places: set[str] = set()
    for item in json.loads(COUNTRIES_FILE.read_text(encoding="utf-8")).values():
        places.update(word for name in item["names"] for word in name.split())
    for _id, _name, _country, population, aliases in json.loads(CITIES_FILE.read_text(encoding="utf-8")):
        if population >= 100_000:
            places.update(word for alias in aliases for word in alias.split())
    org_words: set[str] = set()
    person_words: set[str] = set()
    for entry in json.loads(KNOWLEDGE_BASE_FILE.read_text(encoding="utf-8"))["entries"]:
        bucket = person_words if entry["type"] == "PER" else org_words
        if entry["type"] != "LOC":
            bucket.update(word for alias in entry["aliases"] for word in alias.split())
    return Lexicons(
        first_names=frozenset(names["first"]),
        last_names=frozenset(names["last"]),
        places=frozenset(places),
        org_words=frozenset(org_words),
        person_words=frozenset(person_words),
    )


def type_features(word: str, lex: Lexicons) -> tuple[list[str], list[str]]:
    """Features of a word type: (all of them, the few also used for its neighbours)."""
    if word == BOUNDARY:
        return ["BOUNDARY"], ["BOUNDARY"]
    low = word.lower()
    word_shape = shape(word)
    context = [f"w={low}", f"s={word_shape}"]
    own = [*context, f"p3={low[:3]}", f"x2={low[-2:]}", f"x3={low[-3:]}", f"x4={low[-4:]}"]
    if len(word) <= 2:
        own.append("short")
    if "-" in word:
        head = low.rsplit("-", 1)[-1]
        first = word.split("-", 1)[0]
        own.append(f"head={head}")
        own.append(f"hx3={head[-3:]}")
        if first in lex.places:
            own.append("gaz=place-part")
    for flag, words in (
        ("first", lex.first_names),
        ("last", lex.last_names),
        ("place", lex.places),
        ("org", lex.org_words),
        ("person", lex.person_words),
    ):
        if word in words or (word.endswith("s") and word[:-1] in words):
            own.append(f"gaz={flag}")
            context.append(f"gaz={flag}")
    return own, context


def token_features(words: Sequence[str], lex: Lexicons) -> list[list[str]]:
    """CRF features of each token (for training): its own features and its neighbours'."""
    padded = [BOUNDARY, BOUNDARY, *words, BOUNDARY, BOUNDARY]
    per_type = {w: type_features(w, lex) for w in set(padded)}
    sequences = []
    for i in range(len(words)):
        features = ["bias"]
        for offset in OFFSETS:
            own, context = per_type[padded[i + 2 + offset]]
            chosen = own if offset == 0 else context
            features.extend(f"{offset}:{f}" for f in chosen)
        sequences.append(features)
    return sequences


# --- GermEval 2014 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    """A GermEval sentence: its tokens and the outer BIO labels (PER, LOC, ORG, OTH; the
    -deriv and -part variants are not entities of the type and are read as O)."""

    tokens: tuple[str, ...]
    labels: tuple[str, ...]


def read_germeval(path: Path) -> list[Sentence]:
    sentences: list[Sentence] = []
    tokens: list[str] = []
    labels: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if tokens:
                sentences.append(Sentence(tuple(tokens), tuple(labels)))
            tokens, labels = [], []
            continue
        columns = line.split("\t")
        tokens.append(columns[1])
        tag = columns[2]
        labels.append(tag if tag[2:] in ENTITY_TYPES else "O")
    if tokens:
        sentences.append(Sentence(tuple(tokens), tuple(labels)))
    return sentences


def is_held_out(index: int) -> bool:
    """GermEval dev sentences kept out of training for evaluation: every fifth one."""
    return index % 5 == 4


def bio_spans(labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """(first token, end token exclusive, type) of each BIO chunk; a stray I- starts a chunk."""
    spans: list[tuple[int, int, str]] = []
    start: int | None = None
    kind = ""
    for i, label in enumerate([*labels, "O"]):
        if start is not None and (label == "O" or label.startswith("B-") or label[2:] != kind):
            spans.append((start, i, kind))
            start = None
        if label != "O" and start is None:
            start, kind = i, label[2:]
    return spans


# --- run-time model ------------------------------------------------------------------------------


class NerModel:
    """The exported CRF: label scores per word type and offset, plus label transitions."""

    def __init__(self, weights: dict[str, list[float]], transitions: list[list[float]]):
        self._weights = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
        self._transitions: FloatArray = np.asarray(transitions, dtype=np.float64)
        self._lex = lexicons()
        self._bias = self._weights.get("bias", np.zeros(len(LABELS)))
        self._index: dict[str, int] = {}
        self._table: FloatArray = np.zeros((1024, len(OFFSETS), len(LABELS)))
        self._row(BOUNDARY)

    def _row(self, word: str) -> int:
        """Index of the cached (offsets x labels) scores of a word type, computing them if new."""
        index = self._index.get(word)
        if index is not None:
            return index
        if len(self._index) >= CACHE_LIMIT:
            self._index.clear()
            self._row(BOUNDARY)
        index = len(self._index)
        if index == self._table.shape[0]:
            self._table = np.concatenate([self._table, np.zeros_like(self._table)])
        own, context = type_features(word, self._lex)
        scores = self._table[index]
        scores[:] = 0.0
        for position, offset in enumerate(OFFSETS):
            for feature in own if offset == 0 else context:
                weight = self._weights.get(f"{offset}:{feature}")
                if weight is not None:
                    scores[position] += weight
        self._index[word] = index
        return index

    def _emissions(self, words: Sequence[str]) -> FloatArray:
        ids = [self._row(w) for w in words]
        boundary = self._index[BOUNDARY]
        padded = np.asarray([boundary, boundary, *ids, boundary, boundary], dtype=np.intp)
        n = len(words)
        scores = np.tile(self._bias, (n, 1))
        for position, offset in enumerate(OFFSETS):
            scores += self._table[padded[2 + offset : 2 + offset + n], position]
        return scores

    def _viterbi(self, emissions: FloatArray) -> list[int]:
        """Best label path for a stretch that starts and ends next to O tokens."""
        transitions = self._transitions
        score = transitions[0] + emissions[0]
        back: list[npt.NDArray[np.intp]] = []
        for row in emissions[1:]:
            candidates = score[:, None] + transitions
            back.append(candidates.argmax(axis=0))
            score = candidates.max(axis=0) + row
        score = score + transitions[:, 0]
        best = int(score.argmax())
        path = [best]
        for pointers in reversed(back):
            best = int(pointers[best])
            path.append(best)
        path.reverse()
        return path

    def label_ids(self, words: Sequence[str]) -> list[int]:
        """Label index of each word.

        Tokens surely O are fixed; every other stretch is decoded between O neighbours, single
        tokens all at once (most stretches are one capitalised word), longer ones by Viterbi.
        """
        if not words:
            return []
        emissions = self._emissions(words)
        others = emissions[:, 1:].max(axis=1)
        sure_o = (emissions[:, 0] - others) >= O_MARGIN
        labels = [0] * len(words)
        singles: list[int] = []
        for start, end in _stretches(sure_o):
            if end - start == 1:
                singles.append(start)
            else:
                labels[start:end] = self._viterbi(emissions[start:end])
        if singles:
            alone = emissions[singles] + self._transitions[0] + self._transitions[:, 0]
            for position, label in zip(singles, alone.argmax(axis=1).tolist(), strict=True):
                labels[position] = label
        return labels

    def tag_words(self, words: Sequence[str]) -> list[str]:
        """BIO label of each word (for evaluation on pre-tokenised text)."""
        return [LABELS[i] for i in self.label_ids(words)]

    def spans(self, text: str) -> list[tuple[int, int, EntityType]]:
        """PER, LOC and ORG mentions in ``text`` as character spans (OTH is recognised, not kept)."""
        tokens = tokenize(text)
        labels = self.tag_words([text[s:e] for s, e in tokens])
        result: list[tuple[int, int, EntityType]] = []
        for first, end, kind in bio_spans(labels):
            if kind in ("PER", "LOC", "ORG"):
                result.append((tokens[first][0], tokens[end - 1][1], kind))  # type: ignore[arg-type]  # kind is one of the three literals
        return result


def _stretches(sure_o: npt.NDArray[np.bool_]) -> Iterator[tuple[int, int]]:
    """Maximal runs of tokens not surely O."""
    start: int | None = None
    for i, flag in enumerate(sure_o.tolist()):
        if not flag and start is None:
            start = i
        elif flag and start is not None:
            yield start, i
            start = None
    if start is not None:
        yield start, len(sure_o)


def load_model(path: Path = MODEL_FILE) -> NerModel | None:
    """The vendored model, or None when it has not been built."""
    if not path.exists():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    if tuple(raw["labels"]) != LABELS:
        raise ValueError("NER model was trained with other labels")
    return NerModel(raw["weights"], raw["transitions"])


# --- training ------------------------------------------------------------------------------------


def train(sentences: Sequence[Sentence], *, c1: float = 0.05, c2: float = 0.01) -> dict[str, object]:
    """Train a CRF on ``sentences`` and return the exportable model (needs python-crfsuite)."""
    import pycrfsuite

    lex = lexicons()
    trainer = pycrfsuite.Trainer(verbose=False)
    for sentence in sentences:
        trainer.append(token_features(sentence.tokens, lex), list(sentence.labels))
    trainer.set_params({"c1": c1, "c2": c2, "max_iterations": 300})
    model_path = Path("/tmp/newswire-ner.crfsuite")  # noqa: S108 - scratch file of a dev tool
    trainer.train(str(model_path))
    tagger = pycrfsuite.Tagger()
    tagger.open(str(model_path))
    info = tagger.info()
    label_index = {label: i for i, label in enumerate(LABELS)}
    weights: dict[str, list[float]] = {}
    for (attribute, label), weight in info.state_features.items():
        vector = weights.setdefault(attribute, [0.0] * len(LABELS))
        vector[label_index[label]] = round(weight, 4)
    transitions = [[0.0] * len(LABELS) for _ in LABELS]
    for (source, target), weight in info.transitions.items():
        transitions[label_index[source]][label_index[target]] = round(weight, 4)
    return {
        "about": "CRF trained by newswire on GermEval 2014 NER dev sentences (CC BY 4.0, "
        "Benikova et al. 2014), all but every fifth sentence; see data/README.md.",
        "labels": list(LABELS),
        "weights": weights,
        "transitions": transitions,
    }


def main(germeval_dev: Path) -> None:
    sentences = [s for i, s in enumerate(read_germeval(germeval_dev)) if not is_held_out(i)]
    model = train(sentences)
    MODEL_FILE.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
