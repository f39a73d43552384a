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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
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
CENTRE = OFFSETS.index(0)
BOUNDARY = "<s>"
# A token whose best label is O by at least this margin is taken as O without decoding.
O_MARGIN = 4.0
# Word types whose label scores are cached (the cache is cleared when it grows past this).
CACHE_LIMIT = 200_000

# Endings of words that name or head an organisation ("Bundesärztekammer", "Deutsche Bank", "FC").
ORG_HEADS = (
    "ag", "gmbh", "kg", "e.v", "inc", "ltd", "corp", "partei", "verein", "verband", "universität",
    "university", "hochschule", "institut", "bank", "kammer", "ministerium", "rundfunk", "stiftung",
    "gesellschaft", "konzern", "gruppe", "group", "club", "klub", "agentur", "zeitung", "gericht",
    "amt", "behörde", "rat", "council", "union", "liga", "fc", "sv", "tsv", "vfb", "vfl", "akademie",
    "bund", "kommission", "committee", "polizei", "armee", "regierung", "fraktion", "orchester", "band",
    "records", "airlines", "werke", "werk", "verlag", "museum", "schule", "bahn", "press",
)  # fmt: skip

# Numbers, words (with inner hyphens, apostrophes, ampersands and dots as in "U.S" or "e.V"),
# then any other single character.
TOKEN_PATTERN = re.compile(r"\d+(?:[.,]\d+)*|\w+(?:[-'\u2019&.]\w+)*|\S")

# A token and the whitespace after it: one match per token, and the offsets of the tokens are running
# sums of the matches' lengths (found without a Python step per token). The token is
# ``TOKEN_PATTERN`` with possessive repeats: its parts never give characters back to each other
# (words, digits, marks and whitespace are disjoint classes), so the matches are the same, found
# ~10% faster.
SPACED_TOKEN_PATTERN = re.compile(r"(?:\d++(?:[.,]\d++)*+|\w++(?:[-'\u2019&.]\w++)*+|\S)\s*+")

# The ufunc reduction itself: ``ndarray.max`` goes through a Python wrapper, which costs as much as
# the work on these small arrays.
_MAX = np.maximum.reduce

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Tokens:
    """The tokens of a text: their words and start offsets (a token ends at start + len(word))."""

    words: list[str]
    starts: IntArray

    @cached_property
    def ends(self) -> IntArray:
        """End offsets (exclusive) of the tokens (the tagger needs only a few: it adds lengths)."""
        return self.starts + np.fromiter(map(len, self.words), dtype=np.intp, count=len(self.words))


def split_tokens(text: str) -> Tokens:
    r"""The tokens of ``text`` with their offsets.

    ``str.strip`` and ``\s`` agree on what whitespace is (Unicode's), so stripping a match leaves
    its token, and the text's leading whitespace is where the first match starts.
    """
    first = len(text) - len(text.lstrip())
    spaced = SPACED_TOKEN_PATTERN.findall(text, first)
    if not spaced:
        return Tokens([], np.zeros(0, dtype=np.intp))
    spaced_lengths = np.fromiter(map(len, spaced), dtype=np.intp, count=len(spaced))
    # The ufunc and in-place steps: ``np.cumsum`` and new arrays cost more than the sums here.
    starts = np.add.accumulate(spaced_lengths)
    starts -= spaced_lengths
    starts += first
    return Tokens(list(map(str.rstrip, spaced)), starts)


def tokenize(text: str) -> list[tuple[int, int]]:
    """Token spans (start, end) of ``text``."""
    tokens = split_tokens(text)
    return list(zip(tokens.starts.tolist(), tokens.ends.tolist(), strict=True))


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
    towns: frozenset[str]


@cache
def lexicons() -> Lexicons:
    names = json.loads(NAMES_FILE.read_text(encoding="utf-8"))
    places: set[str] = set()
    for item in json.loads(COUNTRIES_FILE.read_text(encoding="utf-8")).values():
        places.update(word for name in item["names"] for word in name.split())
    towns: set[str] = set()
    for _id, _name, _country, population, aliases in json.loads(CITIES_FILE.read_text(encoding="utf-8")):
        if population >= 100_000:
            places.update(word for alias in aliases for word in alias.split())
        else:
            towns.update(word for alias in aliases for word in alias.split() if len(word) > 3)
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
        towns=frozenset(towns - places),
    )


def type_features(word: str, lex: Lexicons) -> tuple[list[str], list[str]]:
    """Features of a word type: (all of them, the few also used for its neighbours)."""
    if word == BOUNDARY:
        return ["BOUNDARY"], ["BOUNDARY"]
    low = word.lower()
    word_shape = shape(word)
    context = [f"w={low}", f"s={word_shape}"]
    own = [
        *context,
        f"p2={low[:2]}",
        f"p3={low[:3]}",
        f"p4={low[:4]}",
        f"x1={low[-1:]}",
        f"x2={low[-2:]}",
        f"x3={low[-3:]}",
        f"x4={low[-4:]}",
        f"x5={low[-5:]}",
        f"len={min(len(word), 12)}",
    ]
    if len(word) <= 2:
        own.append("short")
    if word.isupper() and len(word) > 1:
        context.append("caps")
    head_word = low.rsplit("-", 1)[-1]
    if head_word.endswith(ORG_HEADS):  # one C call rules out almost every word; then find which
        org_head = next(org_head for org_head in ORG_HEADS if head_word.endswith(org_head))
        own.append(f"orghead={org_head}")
        context.append("orghead")
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
        ("town", lex.towns),
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
        # Every weight vector is a row of one matrix, so a word's scores are one gather and a sum;
        # the rows are found by offset, then feature ("-1:s=Xx" is feature "s=Xx" at offset -1).
        self._feature_rows: dict[int, dict[str, int]] = {offset: {} for offset in OFFSETS}
        for row, name in enumerate(weights):
            offset, _, feature = name.partition(":")
            if feature:
                self._feature_rows[int(offset)][feature] = row
        self._matrix: FloatArray = np.asarray(list(weights.values()), dtype=np.float64).reshape(
            len(weights), len(LABELS)
        )
        self._transitions: FloatArray = np.asarray(transitions, dtype=np.float64)
        self._enter: FloatArray = self._transitions[0][:, None]
        self._leave: FloatArray = self._transitions[:, 0][:, None]
        self._lex = lexicons()
        bias_row = list(weights).index("bias") if "bias" in weights else None
        self._bias: FloatArray = self._matrix[bias_row] if bias_row is not None else np.zeros(len(LABELS))
        self._index: dict[str, int] = {}
        # Counts the clearings of the word-type cache: a type id is valid while it stays the same.
        self.generation = 0
        # Scores by word type, then offset and label: the rows of a text's words (and of their
        # neighbours) are gathered in one take of whole rows.
        self._table: FloatArray = np.zeros((1024, len(OFFSETS) * len(LABELS)))
        self._boundary = self._row(BOUNDARY)

    def _row(self, word: str) -> int:
        """Index of the cached (offsets x labels) scores of a word type, computing them if new."""
        index = self._index.get(word)
        if index is None:
            self._add_rows([word])
            index = self._index[word]
        return index

    def _add_rows(self, words: Sequence[str]) -> None:
        """Compute and cache the scores of new, distinct word types.

        Every (word, offset) gets the sum of its features' weight rows. The sums are done by one
        ``np.add.at`` over all the words at once: numpy costs a few microseconds a call, which per
        word and offset was most of a new word's cost. Rows are added in feature order from zero,
        the same floating-point sums as adding them one by one."""
        first = len(self._index)
        while first + len(words) > self._table.shape[0]:
            self._table = np.concatenate([self._table, np.zeros_like(self._table)])
        lookups = [(position, self._feature_rows[offset].get) for position, offset in enumerate(OFFSETS)]
        targets: list[int] = []
        sources: list[int] = []
        for number, word in enumerate(words):
            own, context = type_features(word, self._lex)
            base = (first + number) * len(OFFSETS)
            for position, lookup in lookups:
                for feature in own if position == CENTRE else context:
                    row = lookup(feature)
                    if row is not None:
                        targets.append(base + position)
                        sources.append(row)
            self._index[word] = first + number
        per_offset = self._table.reshape(-1, len(LABELS))  # a view: (word, offset) rows
        per_offset[first * len(OFFSETS) : (first + len(words)) * len(OFFSETS)] = 0.0
        np.add.at(per_offset, np.asarray(targets, dtype=np.intp), self._matrix[sources])

    def _rows(self, words: Sequence[str]) -> IntArray:
        """Cache rows of the words, padded with ``_PADDING`` boundary rows on each side."""
        if len(self._index) >= CACHE_LIMIT:  # cleared between texts, never while rows are in use
            self._index.clear()
            self.generation += 1
            self._boundary = self._row(BOUNDARY)
        ids = list(map(self._index.get, words))
        if None in ids:
            self._add_rows(list(dict.fromkeys(w for i, w in zip(ids, words, strict=True) if i is None)))
            ids = list(map(self._index.__getitem__, words))
        boundary = (self._boundary,) * _PADDING
        return np.fromiter((*boundary, *ids, *boundary), dtype=np.intp, count=len(ids) + 2 * _PADDING)

    @property
    def type_count(self) -> int:
        """Word types with an id now (ids run from 0 to this, exclusive)."""
        return len(self._index)

    def _emissions(self, words: Sequence[str]) -> FloatArray:
        """Label scores of each word, (labels, tokens), plus a last column that only O can take
        (it pads stretches in ``_batch_viterbi``)."""
        return self._scores(self._rows(words))

    def _scores(self, ids: IntArray) -> FloatArray:
        """``_emissions`` of the words whose rows (from ``_rows``, padded) are ``ids``."""
        rows = self._table.take(ids, axis=0)
        n = len(ids) - 2 * _PADDING
        width = len(LABELS)
        scores = np.empty((n + 1, width))
        np.add(rows[:n, :width], self._bias, out=scores[:n])
        for position in range(1, len(OFFSETS)):
            scores[:n] += rows[position : position + n, position * width : (position + 1) * width]
        scores[n] = _PAD
        return scores.T.copy()

    def label_ids(self, words: Sequence[str]) -> IntArray:
        """Label index of each word."""
        return self.labels_of([words])[0]

    def labels_of(self, texts: Sequence[Sequence[str]]) -> list[IntArray]:
        """Label index of each word of each text (the words of several texts, decoded together)."""
        labels, bounds, _ = self._joint_labels(texts)
        return [labels[start:end] for start, end in bounds]

    def _joint_labels(
        self, texts: Sequence[Sequence[str]]
    ) -> tuple[IntArray, list[tuple[int, int]], IntArray]:
        """Labels of the texts' words joined, where each text's words are among them, and the
        words' type ids (as ``_rows`` gives them: ``_PADDING`` boundary rows before the first word).

        The texts are joined with two boundary words between them, which is what each text's
        features see past its ends anyway; held to O, they keep every stretch decoded below inside
        one text, so each text gets the labels it gets alone.
        """
        words: list[str] = []
        bounds: list[tuple[int, int]] = []
        separators: list[int] = []
        for text in texts:
            if words and text:
                separators += range(len(words), len(words) + len(_SEPARATOR))
                words += _SEPARATOR
            bounds.append((len(words), len(words) + len(text)))
            words += text
        labels = np.zeros(len(words), dtype=np.intp)
        ids = self._rows(words)
        if words:
            self._decode(ids, separators, labels)
        return labels, bounds, ids

    def _decode(self, ids: IntArray, held: list[int], labels: IntArray) -> None:
        """Write the labels of the words with rows ``ids`` into ``labels``; the words at ``held``
        stay O.

        Tokens surely O are fixed; the stretches between them are decoded: a lone token by the
        best label between two O, longer stretches together, as one batch of Viterbi passes that
        each start and end next to an O.
        """
        emissions = self._scores(ids)
        # True where a word is open, with a closed word before and after, so that its changes
        # alternate between where a stretch starts and where it ends.
        is_open = np.zeros(labels.size + 2, dtype=np.bool_)
        margins = emissions[0, :-1] - _MAX(emissions[1:, :-1], axis=0)
        np.less(margins, O_MARGIN, out=is_open[1:-1])
        is_open[1:-1][held] = False
        (changes,) = (is_open[1:] != is_open[:-1]).nonzero()
        if changes.size == 0:
            return
        starts, ends = changes[::2], changes[1::2]
        lone = ends - starts == 1
        # The sums in the order the batched pass makes them, so that both give the same labels.
        alone = starts[lone]
        labels[alone] = ((self._enter + emissions[:, alone]) + self._leave).argmax(axis=0)
        if alone.size < starts.size:
            longer = ~lone
            positions, path = _batch_viterbi(
                emissions, starts[longer], ends[longer] - starts[longer], self._transitions
            )
            labels[positions] = path

    def tag_words(self, words: Sequence[str]) -> list[str]:
        """BIO label of each word (for evaluation on pre-tokenised text)."""
        return [LABELS[i] for i in self.label_ids(words).tolist()]

    def token_spans(self, tokens: Tokens) -> list[tuple[int, int, EntityType]]:
        """PER, LOC and ORG mentions among ``tokens`` as character spans (OTH is not kept)."""
        return self.spans_of([tokens])[0]

    def spans_of(self, texts: Sequence[Tokens]) -> list[list[tuple[int, int, EntityType]]]:
        """``token_spans`` of several texts, decoded together."""
        return self.read(texts)[0]

    def read(self, texts: Sequence[Tokens]) -> tuple[list[list[tuple[int, int, EntityType]]], list[IntArray]]:
        """``spans_of`` the texts, and the word-type id of each of their tokens: the same word has
        the same id in every text until ``generation`` changes (so callers can keep facts by id)."""
        labels, bounds, ids = self._joint_labels([t.words for t in texts])
        types = [ids[start + _PADDING : end + _PADDING] for start, end in bounds]
        result: list[list[tuple[int, int, EntityType]]] = [[] for _ in texts]
        text = 0
        # Chunks come in order and never cross texts (the words between texts are O).
        for first, end, kind in _label_chunks(labels):
            if kind not in ("PER", "LOC", "ORG"):
                continue
            while first >= bounds[text][1]:
                text += 1
            offset = bounds[text][0]
            tokens = texts[text]
            last = end - 1 - offset
            span = (
                int(tokens.starts[first - offset]),
                int(tokens.starts[last]) + len(tokens.words[last]),
                kind,
            )
            result[text].append(span)  # type: ignore[arg-type]  # kind is one of the three literals
        return result, types

    def spans(self, text: str) -> list[tuple[int, int, EntityType]]:
        """PER, LOC and ORG mentions in ``text`` as character spans (OTH is recognised, not kept)."""
        return self.token_spans(split_tokens(text))


# Put between the words of texts decoded together: what a text's features see past its ends.
_SEPARATOR = (BOUNDARY, BOUNDARY)
# Boundary rows before and after a text's rows: its first and last words' neighbours at -2..+2.
_PADDING = 2
# A score that rules a label out (finite, so sums stay comparable).
IMPOSSIBLE = -1e9
# Label scores of a padding step: only O, at no cost.
_PAD = np.array([0.0] + [IMPOSSIBLE] * (len(LABELS) - 1))


def _batch_viterbi(
    emissions: FloatArray, starts: IntArray, lengths: IntArray, transitions: FloatArray
) -> tuple[IntArray, IntArray]:
    """Best label paths of all stretches at once: (token positions, their labels).

    ``emissions`` are (labels, tokens), with a last padding column that only O can take. Each
    stretch sits between O tokens. Shorter stretches are padded with that column; as every stretch
    ends in a transition to O anyway, the padding adds the same score to every path of a stretch
    and leaves its best path unchanged. Arrays are laid out (labels, stretches) so that every step
    is a few whole-array operations.
    """
    count, longest = starts.size, int(_MAX(lengths))
    steps = np.arange(longest)[:, None]
    valid = steps < lengths
    positions = np.where(valid, starts + steps, emissions.shape[1] - 1)
    batch = emissions[:, positions]  # (labels, steps, stretches)
    scores = [transitions[0][:, None] + batch[:, 0]]
    into = transitions[:, :, None]  # (from, to, stretches)
    for step in range(1, longest):
        best_in = _MAX(scores[-1][:, None, :] + into, axis=0)
        best_in += batch[:, step]
        scores.append(best_in)
    best = (scores[-1] + transitions[:, 0][:, None]).argmax(axis=0)
    path = np.zeros((longest, count), dtype=np.intp)
    path[longest - 1] = best
    for step in range(longest - 2, -1, -1):
        best = (scores[step] + transitions[:, best]).argmax(axis=0)
        path[step] = best
    return positions[valid], path[valid]


def _label_chunks(labels: IntArray) -> list[tuple[int, int, str]]:
    """``bio_spans`` of label indices, visiting only the tokens that are not O."""
    spans: list[tuple[int, int, str]] = []
    start = end = -1
    kind = ""
    (positions,) = labels.nonzero()
    for position, label in zip(positions.tolist(), labels[positions].tolist(), strict=True):
        name = LABELS[label]
        if start >= 0 and (position != end or name.startswith("B-") or name[2:] != kind):
            spans.append((start, end, kind))
            start = -1
        if start < 0:
            start, kind = position, name[2:]
        end = position + 1
    if start >= 0:
        spans.append((start, end, kind))
    return spans


def load_model(path: Path = MODEL_FILE) -> NerModel | None:
    """The vendored model, or None when it has not been built."""
    if not path.exists():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    if tuple(raw["labels"]) != LABELS:
        raise ValueError("NER model was trained with other labels")
    return NerModel(raw["weights"], raw["transitions"])


# --- training ------------------------------------------------------------------------------------


# L1 and L2 penalties, chosen by 5-fold cross-validation inside the training sentences (every fifth
# held-out sentence never seen): 0.02/0.05 beat the earlier 0.05/0.01 and 0.1/0.01.
C1, C2 = 0.02, 0.05


def train(sentences: Sequence[Sentence], *, c1: float = C1, c2: float = C2) -> dict[str, object]:
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
