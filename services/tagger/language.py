"""Which language an article is written in (ISO 639-1), with lingua restricted to the languages we serve."""

from __future__ import annotations

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

UNDETERMINED = "und"

# The languages most used in news, by the ISO 639-1 code the contract uses. Norwegian is Bokmål
# ("nb"), the written standard of most Norwegian news.
DEFAULT_LANGUAGES: tuple[str, ...] = (
    "en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "ar", "zh", "ja", "ko",
    "tr", "sv", "da", "nb", "fi", "cs", "el", "hu", "ro", "hi", "id", "fa", "he",
)  # fmt: skip

# Headline plus this much body: lingua's cost grows with the text, and 300 characters of news prose
# are already unambiguous among our languages (evaluation/tagging.py measures it on real pages).
SAMPLE_CHARS = 300
# Below this many letters a guess is a coin toss: say "und" instead.
MIN_LETTERS = 12


def lingua_language(code: str) -> Language:
    """The lingua language of an ISO 639-1 code; ValueError when lingua does not know it."""
    try:
        return Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
    except (AttributeError, ValueError) as exc:
        raise ValueError(f"unsupported language code {code!r}") from exc


def language_sample(headline: str, body_text: str) -> str:
    """The text the language is told from: the headline and the start of the body."""
    return f"{headline}\n{body_text[: max(0, SAMPLE_CHARS - len(headline))]}"


def _letter_count(text: str, enough: int = MIN_LETTERS) -> int:
    """Letters in ``text``, counted only as far as needed to know there are ``enough``."""
    count = 0
    for char in text:
        if char.isalpha():
            count += 1
            if count >= enough:
                break
    return count


class LanguageIdentifier:
    """Tells the language of a text among a fixed set (building it loads lingua's models: do it once).

    Low-accuracy mode (trigram models only) is the default because high-accuracy mode keeps 1- to
    5-gram models for every candidate language in memory: ~530 MB for 20 languages, over the
    tagger's 500 MB budget. On texts of a few hundred characters both modes agree; they differ on
    short snippets, where we answer "und" below ``MIN_LETTERS`` anyway.
    """

    def __init__(self, languages: tuple[str, ...] = DEFAULT_LANGUAGES, *, high_accuracy: bool = False):
        if len(set(languages)) < 2:
            raise ValueError("language identification needs at least two languages")
        builder = LanguageDetectorBuilder.from_languages(*(lingua_language(c) for c in languages))
        if not high_accuracy:
            builder = builder.with_low_accuracy_mode()
        self._detector: LanguageDetector = builder.with_preloaded_language_models().build()

    def identify(self, text: str) -> str:
        """ISO 639-1 code of the text's language, or ``und`` when it is too short or unclear."""
        if _letter_count(text) < MIN_LETTERS:
            return UNDETERMINED
        language = self._detector.detect_language_of(text)
        if language is None:
            return UNDETERMINED
        return language.iso_code_639_1.name.lower()
