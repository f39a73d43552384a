"""Which language an article is written in (ISO 639-1), with lingua restricted to the languages we serve."""

from __future__ import annotations

import re

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

# The commonest function words (articles, pronouns, prepositions, conjunctions, auxiliaries) of the
# Latin-script languages we serve, written down by newswire from general knowledge of each language.
# Running prose is about a third function words, so a sample whose words are mostly one language's
# function words, far more than any other's, is that language: lingua is asked only when this vote
# is not clear. Languages too close to tell this way (Danish, Bokmål, Swedish) take part in the vote
# but never win it.
FUNCTION_WORDS: dict[str, str] = {
    "en": "the of and to in is was that for on with as by at it from his her are be has have had which "
    "this an were said not but its their they he she will would who been than also after",
    "de": "der die das und zu den von mit ist des sich auf für nicht ein eine dem als auch es an werden "
    "aus er hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur "
    "oder aber vor zur bis mehr durch man sein wurde sei im ich wir ihr",
    "fr": "le la les de des du et est un une en que qui dans pour pas au aux sur avec ce il ne se sont "
    "par plus à été elle ont mais ou cette leur ses son comme",
    "es": "el la los las de del y en que un una por con para es se su al lo como más pero sus le ya fue "
    "este ha sido está entre sin sobre también",
    "it": "il lo la di che e è per un una del della dei delle non in con si sono al alla gli le anche ma "
    "più da nel nella ha stato essere questo",
    "pt": "o os a as de do da dos das não em um uma com para por mais ao à que se na no foi é são pelo "
    "pela também mas como seu sua",
    "nl": "de het een van en in is op te dat die voor met zijn niet aan er om ook als bij door maar naar "
    "uit worden wordt werd deze dan nog tot over hij ze zij wel",
    "pl": "i w na z się że do nie to jest o jak po przez za od jego ale co być są już dla tym tak przy "
    "oraz który która było został",
    "ro": "și în de la cu pe a un o care din se că nu mai este au fost pentru sunt sau ca prin după acest",
    "cs": "a v se na že je s z do to o k ve jako by být i jeho pro jsou který která bylo také podle",
    "tr": "ve bir bu da de için ile olarak çok daha gibi en olan kadar sonra ama ancak değil ise her",
    "hu": "a az és hogy is nem egy meg van de már csak ki mint még volt el pedig vagy fel kell",
    "fi": "ja on ei se että oli hän myös mutta kun ovat tai joka sen ole niin jo vain kuin",
    "id": "yang dan di ini itu dengan untuk dari dalam tidak akan pada ke adalah juga oleh karena telah",
    "sv": "och i att det som en på är av för med till den har de inte om ett var jag men",
    "da": "og i at det som en på er af for med til den har de ikke om et var jeg men",
    "nb": "og i at det som en på er av for med til den har de ikke om et var jeg men",
}
_NEVER_BY_VOTE = frozenset({"sv", "da", "nb"})
# A vote is clear when its winner has this many function words, this share of the sample's
# words, and this many times the runner-up's count.
VOTE_MIN_HITS = 7
VOTE_MIN_SHARE = 0.2
VOTE_MIN_LEAD = 3.0
_WORD = re.compile(r"\w+")


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


def _function_word_index(languages: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Function word -> the languages (among ``languages``) it is a function word of."""
    index: dict[str, list[str]] = {}
    for code in languages:
        for word in FUNCTION_WORDS.get(code, "").split():
            index.setdefault(word, []).append(code)
    return {word: tuple(codes) for word, codes in index.items()}


def function_word_vote(text: str, index: dict[str, tuple[str, ...]]) -> str | None:
    """The language whose function words clearly dominate ``text``, or None when the vote is not clear."""
    words = _WORD.findall(text.lower())
    hits: dict[str, int] = {}
    for word in words:
        for code in index.get(word, ()):
            hits[code] = hits.get(code, 0) + 1
    if not hits:
        return None
    ranked = sorted(hits.items(), key=lambda item: -item[1])
    code, best = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    clear = (
        best >= VOTE_MIN_HITS and best >= VOTE_MIN_SHARE * len(words) and best >= VOTE_MIN_LEAD * runner_up
    )
    return code if clear and code not in _NEVER_BY_VOTE else None


class LanguageIdentifier:
    """Tells the language of a text among a fixed set (building it loads lingua's models: do it once).

    A clear function-word vote answers first (a few microseconds where lingua takes about a
    millisecond); lingua decides everything else.

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
        self._function_words = _function_word_index(tuple(languages))

    def identify(self, text: str) -> str:
        """ISO 639-1 code of the text's language, or ``und`` when it is too short or unclear."""
        if _letter_count(text) < MIN_LETTERS:
            return UNDETERMINED
        voted = function_word_vote(text, self._function_words)
        if voted is not None:
            return voted
        language = self._detector.detect_language_of(text)
        if language is None:
            return UNDETERMINED
        return language.iso_code_639_1.name.lower()
