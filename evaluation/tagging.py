"""How well the tagger tags: language on real pages, entity F1 on GermEval, topics on 10kGNAD.

.venv/bin/python -m evaluation.tagging
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from evaluation.common import DataMissingError, data_dir
from services.tagger.entities import EntityRecognizer
from services.tagger.language import LanguageIdentifier, language_sample
from services.tagger.ner import bio_spans, is_held_out, read_germeval
from services.tagger.topics import TopicClassifier

# 10kGNAD sections (DER STANDARD, Austria) and the IPTC top-level topics an article of the section
# may carry as its top topic. Declared before measuring, from what each section covers.
SECTION_TOPICS: dict[str, frozenset[str]] = {
    # Internet, tech companies, games, net politics.
    "Web": frozenset({"medtop:13000000", "medtop:04000000", "medtop:01000000", "medtop:10000000"}),
    # The miscellany section: crime, accidents, weather, curiosities, society, health.
    "Panorama": frozenset(
        {
            "medtop:02000000",
            "medtop:03000000",
            "medtop:08000000",
            "medtop:14000000",
            "medtop:17000000",
            "medtop:06000000",
            "medtop:07000000",
            "medtop:10000000",
            "medtop:12000000",
        }
    ),
    # Foreign news: politics, wars, crime, disasters, society, religion.
    "International": frozenset(
        {
            "medtop:11000000",
            "medtop:16000000",
            "medtop:02000000",
            "medtop:03000000",
            "medtop:14000000",
            "medtop:12000000",
        }
    ),
    # Domestic (Austrian) news: politics, justice, society, labour, education.
    "Inland": frozenset(
        {
            "medtop:11000000",
            "medtop:02000000",
            "medtop:14000000",
            "medtop:09000000",
            "medtop:05000000",
        }
    ),
    "Wirtschaft": frozenset({"medtop:04000000", "medtop:09000000"}),
    "Sport": frozenset({"medtop:15000000"}),
    # "Etat" is the media section: TV, press, broadcasters.
    "Etat": frozenset({"medtop:01000000"}),
    "Wissenschaft": frozenset(
        {
            "medtop:13000000",
            "medtop:07000000",
            "medtop:06000000",
            "medtop:05000000",
        }
    ),
    "Kultur": frozenset({"medtop:01000000"}),
}


def _require(path: Path) -> Path:
    if not path.exists():
        raise DataMissingError(f"{path} is missing")
    return path


# --- language ------------------------------------------------------------------------------------


def _page_text(html: str) -> tuple[str, str]:
    """(title, main text) of a page, as trafilatura extracts them."""
    import trafilatura

    extracted = trafilatura.bare_extraction(html, with_metadata=True)
    if extracted is None:
        return "", ""
    fields = extracted if isinstance(extracted, dict) else extracted.as_dict()
    return str(fields.get("title") or ""), str(fields.get("text") or "")


def evaluate_language(data: Path) -> str:
    pages = _require(data / "pages")
    manifest = json.loads((pages / "manifest.json").read_text(encoding="utf-8"))
    identifier = LanguageIdentifier()
    right_text = right_snippets = 0
    misses: list[str] = []
    for page in manifest:
        expected = page["lang_lingua_on_expected_snippets"]
        html = (pages / page["local_file"]).read_text(encoding="utf-8", errors="replace")
        title, text = _page_text(html)
        got = identifier.identify(language_sample(title, text))
        right_text += got == expected
        if got != expected:
            misses.append(f"{page['local_file']} (expected {expected}, got {got})")
        snippets = " ".join(page["with"])
        right_snippets += identifier.identify(language_sample("", snippets)) == expected
    total = len(manifest)
    lines = [
        f"- trafilatura's title + main text of each page: **{right_text}/{total}** right",
        f"- the page's expected main-text snippets: **{right_snippets}/{total}** right",
    ]
    if misses:
        lines.append(f"- wrong: {', '.join(misses)}")
    return "\n".join(lines)


# --- entities ------------------------------------------------------------------------------------


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


Span = tuple[int, int, str]


def _score(pairs: Iterable[tuple[set[Span], set[Span]]]) -> dict[str, tuple[float, float, float]]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for predicted, gold in pairs:
        for span in predicted & gold:
            tp[span[2]] += 1
        for span in predicted - gold:
            fp[span[2]] += 1
        for span in gold - predicted:
            fn[span[2]] += 1
    result = {kind: _f1(tp[kind], fp[kind], fn[kind]) for kind in ("PER", "LOC", "ORG")}
    result["all"] = _f1(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return result


def evaluate_entities(data: Path) -> str:
    path = _require(data / "germeval2014-ner" / "NER-de-dev.tsv")
    sentences = [s for i, s in enumerate(read_germeval(path)) if is_held_out(i)]
    full = EntityRecognizer()
    gazetteer_only = EntityRecognizer(use_model=False)
    systems: dict[str, Callable[[str], set[Span]]] = {
        "model + gazetteer (what the tagger runs)": lambda text: {
            (m.start, m.end, m.type) for m in full.mentions(text)
        },
        "gazetteer only (countries, knowledge base)": lambda text: {
            (m.start, m.end, m.type) for m in gazetteer_only.mentions(text)
        },
    }
    gold_count: Counter[str] = Counter()
    texts: list[tuple[str, set[Span]]] = []
    for sentence in sentences:
        text = " ".join(sentence.tokens)
        starts = []
        position = 0
        for token in sentence.tokens:
            starts.append(position)
            position += len(token) + 1
        gold = {
            (starts[first], starts[end - 1] + len(sentence.tokens[end - 1]), kind)
            for first, end, kind in bio_spans(sentence.labels)
            if kind in ("PER", "LOC", "ORG")
        }
        gold_count.update(kind for _, _, kind in gold)
        texts.append((text, gold))
    lines = [
        f"Held-out GermEval 2014 dev sentences (every fifth: {len(sentences)} sentences, "
        f"{sum(gold_count.values())} entities: PER {gold_count['PER']}, LOC {gold_count['LOC']}, "
        f"ORG {gold_count['ORG']}); the model was trained on the other four fifths. Exact span "
        "and type match, outer entities, OTH and -deriv/-part not counted.",
        "",
        "| system | PER F1 | LOC F1 | ORG F1 | all P | all R | all F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, system in systems.items():
        scores = _score((system(text), gold) for text, gold in texts)
        p, r, f = scores["all"]
        lines.append(
            f"| {name} | {scores['PER'][2]:.3f} | {scores['LOC'][2]:.3f} | "
            f"{scores['ORG'][2]:.3f} | {p:.3f} | {r:.3f} | **{f:.3f}** |"
        )
    return "\n".join(lines)


# --- topics --------------------------------------------------------------------------------------


def read_10kgnad(path: Path) -> list[tuple[str, str]]:
    """(section, text) of each article."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row[0], row[1]) for row in csv.reader(handle, delimiter=";", quotechar="'")]


def evaluate_topics(data: Path) -> str:
    articles = read_10kgnad(_require(data / "10kgnad" / "articles.csv"))
    classifier = TopicClassifier()
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    per_section: Counter[str] = Counter()
    per_section_right: Counter[str] = Counter()
    for index, (section, text) in enumerate(articles):
        half = "odd" if index % 2 else "even"
        subjects = classifier.classify("", text, "de")
        top = subjects[0].code if subjects else None
        ok = top in SECTION_TOPICS[section]
        seen[half] += 1
        right[half] += ok
        per_section[section] += 1
        per_section_right[section] += ok
    total_right = sum(right.values())
    sections = ", ".join(f"{s} {per_section_right[s]}/{per_section[s]}" for s in sorted(per_section))
    return "\n".join([
        f"- all {len(articles)} articles: **{total_right / len(articles):.3f}**",
        f"- odd-numbered half (never looked at while writing rules): "
        f"**{right['odd'] / seen['odd']:.3f}** of {seen['odd']}",
        f"- even-numbered half (its errors were looked at during development): "
        f"{right['even'] / seen['even']:.3f} of {seen['even']}",
        f"- per section: {sections}",
    ])  # fmt: skip


def run(data: Path) -> str:
    """The tagging evaluation as a Markdown section."""
    if not data.exists():
        raise DataMissingError(f"{data} is missing")
    return "\n".join([
        "## Tagging",
        "",
        "### Language (a function-word vote answers clear samples; else lingua, 27 languages, "
        "low-accuracy mode; headline + body up to 300 characters)",
        "Measured on the 22 pages of `pages/` against `lang_lingua_on_expected_snippets`.",
        evaluate_language(data),
        "",
        "### Entities (CRF trained here + gazetteer, span F1)",
        evaluate_entities(data),
        "",
        "### IPTC top-level topic (keyword rules), 10kGNAD",
        "An article is right when its top subject is one of its section's topics "
        "(`SECTION_TOPICS` in `evaluation/tagging.py`). Headline unknown: the whole text is the body.",
        evaluate_topics(data),
        "",
        "Method: see `docs/topics.md` and `services/tagger/data/README.md`.",
    ])  # fmt: skip


if __name__ == "__main__":
    print(run(data_dir()))
