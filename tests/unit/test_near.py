"""Near-duplicate index and detector: copies match, different stories and stubs do not."""

from __future__ import annotations

import pytest

from services.dedup.fingerprint import NO_BOILERPLATE, fingerprint
from services.dedup.near import (
    DEFAULT_THRESHOLDS,
    InMemoryNearIndex,
    InMemorySentenceFrequency,
    NearDuplicateDetector,
    is_same_story,
    similarity,
)

pytestmark = pytest.mark.unit

LEGAL = (
    "Der Volltext dieses auf Agenturmeldungen basierenden Artikels steht aus rechtlichen "
    "Gründen nicht mehr zur Verfügung."
)

BRIDGE = (
    "Neue Brücke über den Fluss nach drei Jahren Bauzeit eröffnet",
    (
        "Nach drei Jahren Bauzeit ist am Samstag die neue Brücke über den Fluss für den Verkehr "
        "freigegeben worden. Der Bürgermeister sprach bei der Eröffnung von einem wichtigen Tag "
        "für die ganze Region.",
        "Die Brücke ersetzt einen Bau aus den fünfziger Jahren, der zuletzt nur noch einspurig "
        "befahren werden durfte. Täglich sollen rund zwanzigtausend Fahrzeuge die neue Verbindung "
        "nutzen.",
        "Die Baukosten lagen mit knapp achtzig Millionen Euro deutlich über der ersten Schätzung. "
        "Als Grund nannte die Stadt gestiegene Preise für Stahl und Beton.",
        "Anwohner hatten sich während der Bauzeit über Lärm und Umleitungen beschwert. Die Stadt "
        "kündigte an, die Umleitungsstrecken bis zum Jahresende zurückzubauen.",
        "Für Radfahrer und Fußgänger gibt es auf beiden Seiten der Brücke breite eigene Wege. "
        "Ein Fest mit Musik und Ständen soll am Sonntag folgen.",
    ),
)

ELECTION = (
    "Gemeinderat wählt neue Bürgermeisterin im zweiten Wahlgang",
    (
        "Die Gemeinde hat eine neue Bürgermeisterin: Im zweiten Wahlgang setzte sich die "
        "bisherige Vizebürgermeisterin mit knapper Mehrheit gegen ihren Herausforderer durch.",
        "Im ersten Wahlgang hatte keiner der drei Kandidaten die nötige Mehrheit erreicht. Der "
        "drittplatzierte Bewerber zog daraufhin seine Kandidatur zurück.",
        "Die neue Bürgermeisterin kündigte an, zuerst den Haushalt zu sanieren und die Sanierung "
        "der Grundschule voranzutreiben. Ihr Amt tritt sie Anfang des kommenden Monats an.",
    ),
)

STUB_LEADS = (
    "Zugausfälle im Berufsverkehr nach einem Stellwerksbrand am frühen Morgen.",
    "Forscher entdecken eine bisher unbekannte Käferart im Regenwald.",
    "Notenbank lässt den Leitzins trotz schwacher Konjunktur unverändert.",
    "Schwimmerin stellt bei den Meisterschaften einen neuen Europarekord auf.",
)

TEASER_BLOCK = (
    "Empfohlen: Wetterdienst warnt vor Sturmböen an der Küste am Wochenende.",
    "Empfohlen: Preise für Heizöl sinken den dritten Monat in Folge deutlich.",
)


def truncated(body: tuple[str, ...], paragraphs: int) -> tuple[str, ...]:
    return body[:paragraphs]


async def test_republication_with_other_residue_matches() -> None:
    """A copy with another site name in the headline, junk lines and a byline is a duplicate."""
    index = InMemoryNearIndex()
    headline, body = BRIDGE
    assert await index.check_and_insert("orig", fingerprint(headline, body), now=1.0) is None
    copy_body = ("Textgröße ändern:", *body, "(K.Novak--NPM)")
    match = await index.check_and_insert("copy", fingerprint(f"Nordkurier - {headline}", copy_body), now=2.0)
    assert match is not None
    assert (match.article_id, match.kind) == ("orig", "near")


@pytest.mark.parametrize("kept", [2, 3])
async def test_truncated_copy_matches_by_containment(kept: int) -> None:
    """A copy cut to its first paragraphs (about 50% and 70%) matches its original."""
    index = InMemoryNearIndex()
    headline, body = BRIDGE
    await index.check_and_insert("orig", fingerprint(headline, body), now=1.0)
    match = await index.check_and_insert("cut", fingerprint(headline, truncated(body, kept)), now=2.0)
    assert match is not None and match.article_id == "orig"
    assert match.containment >= DEFAULT_THRESHOLDS.min_containment


async def test_original_arriving_after_its_truncated_copy_matches_it() -> None:
    """Order does not matter: the full text matches the cut copy indexed before it."""
    index = InMemoryNearIndex()
    headline, body = BRIDGE
    await index.check_and_insert("cut", fingerprint(headline, truncated(body, 2)), now=1.0)
    match = await index.check_and_insert("full", fingerprint(headline, body), now=2.0)
    assert match is not None and match.article_id == "cut"


async def test_light_edit_matches() -> None:
    """A few changed words and a dropped sentence still make a duplicate."""
    index = InMemoryNearIndex()
    headline, body = BRIDGE
    await index.check_and_insert("orig", fingerprint(headline, body), now=1.0)
    edited = (
        body[0].replace("Samstag", "Sonnabend"),
        body[1],
        body[2].split(". ")[0] + ".",
        body[3].replace("Lärm", "Staub"),
        body[4],
    )
    match = await index.check_and_insert("edit", fingerprint(headline, edited), now=2.0)
    assert match is not None and match.article_id == "orig"


async def test_different_stories_do_not_match() -> None:
    """Two unrelated stories are both unique."""
    index = InMemoryNearIndex()
    assert await index.check_and_insert("a", fingerprint(*BRIDGE), now=1.0) is None
    assert await index.check_and_insert("b", fingerprint(*ELECTION), now=2.0) is None
    assert len(index) == 2


async def test_stub_trap_with_the_generic_boilerplate_list() -> None:
    """Stubs sharing only the agency legal sentence are different stories."""
    index = InMemoryNearIndex()
    for n, lead in enumerate(STUB_LEADS):
        assert await index.check_and_insert(f"s{n}", fingerprint(lead, (LEGAL,)), now=n) is None


async def test_stub_trap_without_the_list_shows_why_the_sentence_is_filtered() -> None:
    """Without any boilerplate knowledge, the shared legal sentence alone makes stubs look alike."""
    first = fingerprint(STUB_LEADS[1], (LEGAL,), NO_BOILERPLATE)
    second = fingerprint(STUB_LEADS[2], (LEGAL,), NO_BOILERPLATE)
    _, containment = similarity(first.sketch, first.size, second.sketch, second.size)
    assert containment > 0.3


async def test_outlet_template_learnt_per_source() -> None:
    """Sentences an outlet repeats under its stories (a leaked teaser block, a legal notice) stop
    counting once seen in two of its earlier unique articles, so its next stubs, which share little
    but that template, are unique."""
    detector = NearDuplicateDetector(InMemoryNearIndex(), InMemorySentenceFrequency(), NO_BOILERPLATE)
    unlearnt = NearDuplicateDetector(InMemoryNearIndex(), None, NO_BOILERPLATE)
    template = (LEGAL, *TEASER_BLOCK)
    pages = [(headline, (*body, *template)) for headline, body in (BRIDGE, ELECTION)]
    pages += [(lead, template) for lead in STUB_LEADS]
    verdicts, control = [], []
    for n, (headline, body) in enumerate(pages):
        verdicts.append(await detector.check(f"p{n}", headline, body, "Outlet A", now=float(n)))
        control.append(await unlearnt.check(f"p{n}", headline, body, "Outlet A", now=float(n)))
    assert verdicts == [None] * len(pages)
    assert all(m is not None for m in control[3:])


async def test_outlet_learns_its_template_from_its_copies_of_other_outlets_stories() -> None:
    """An outlet's first copy of another outlet's story counts for its template like a story of
    its own: after two such copies carrying its teaser block, its stubs with that block are unique."""
    detector = NearDuplicateDetector(InMemoryNearIndex(), InMemorySentenceFrequency(), NO_BOILERPLATE)
    template = (LEGAL, *TEASER_BLOCK)
    for n, (headline, body) in enumerate((BRIDGE, ELECTION)):
        assert await detector.check(f"wire{n}", headline, body, "Agency", now=float(n)) is None
        copy = await detector.check(f"copy{n}", headline, (*body, *template), "Outlet A", now=float(n))
        assert copy is not None and copy.article_id == f"wire{n}"
    stubs = [
        await detector.check(f"s{n}", lead, template, "Outlet A", now=10.0 + n)
        for n, lead in enumerate(STUB_LEADS)
    ]
    assert stubs == [None] * len(STUB_LEADS)


async def test_rewrites_of_its_own_story_do_not_teach_an_outlet_its_template() -> None:
    """Only unique articles are counted: an outlet's repeated rewrites of one story keep matching
    it, instead of its sentences turning into the outlet's template after two articles."""
    detector = NearDuplicateDetector(InMemoryNearIndex(), InMemorySentenceFrequency())
    headline, body = BRIDGE
    versions = [body, body[:4], body[1:], body[:3], body]
    matches = [
        await detector.check(f"v{n}", headline, text, "Outlet A", now=float(n))
        for n, text in enumerate(versions)
    ]
    assert matches[0] is None
    assert [m and m.article_id for m in matches[1:]] == ["v0"] * 4


async def test_learning_is_per_outlet_so_wire_copies_still_match() -> None:
    """A story carried by many outlets is never learnt as template: each outlet prints it once."""
    detector = NearDuplicateDetector(InMemoryNearIndex(), InMemorySentenceFrequency())
    headline, body = BRIDGE
    matches = [await detector.check(f"c{n}", headline, body, f"Outlet {n}", now=float(n)) for n in range(6)]
    assert matches[0] is None
    assert all(m is not None and m.article_id == "c0" for m in matches[1:])


async def test_same_template_different_stories_are_unique() -> None:
    """Two different stories of one outlet sharing its junk lines and teaser block are unique."""
    index = InMemoryNearIndex()
    for n, (headline, body) in enumerate([BRIDGE, ELECTION]):
        page = (f"Outlet A - {headline}", ("Textgröße ändern:", *body, "(A.Horvat--OUA)", *TEASER_BLOCK))
        assert await index.check_and_insert(f"x{n}", fingerprint(*page), now=float(n)) is None


async def test_exact_copy_matches_as_exact() -> None:
    """Same text in other case and spacing is an exact duplicate."""
    index = InMemoryNearIndex()
    headline, body = ELECTION
    await index.check_and_insert("a", fingerprint(headline, body), now=1.0)
    match = await index.check_and_insert(
        "b", fingerprint(headline.upper(), tuple(p + "  " for p in body)), now=2.0
    )
    assert match is not None and match.kind == "exact" and match.article_id == "a"


async def test_earliest_matching_article_is_returned() -> None:
    """When two indexed articles match (the first and the second half), the earlier one wins."""
    index = InMemoryNearIndex()
    headline, body = BRIDGE
    assert await index.check_and_insert("head", fingerprint(headline, body[:2]), now=1.0) is None
    assert await index.check_and_insert("tail", fingerprint("", body[2:]), now=2.0) is None
    match = await index.check_and_insert("full", fingerprint(headline, body), now=3.0)
    assert match is not None and match.article_id == "head"


async def test_redelivery_of_a_unique_article_stays_unique() -> None:
    """Checking an indexed article id again does not report it as a copy of itself."""
    index = InMemoryNearIndex()
    fp = fingerprint(*BRIDGE)
    assert await index.check_and_insert("a", fp, now=1.0) is None
    assert await index.check_and_insert("a", fp, now=2.0) is None
    assert len(index) == 1


async def test_entries_expire_after_the_window() -> None:
    """After the window an old article no longer matches: the copy is indexed as unique."""
    index = InMemoryNearIndex(window_seconds=100)
    fp = fingerprint(*BRIDGE)
    await index.check_and_insert("old", fp, now=0.0)
    assert await index.check_and_insert("copy", fp, now=50.0) is not None
    assert await index.check_and_insert("late", fp, now=150.0) is None
    assert len(index) == 1


async def test_decisions_are_deterministic() -> None:
    """The same stream through two fresh indexes gives the same verdicts."""
    headline, body = BRIDGE
    stream = [
        ("a", fingerprint(headline, body)),
        ("b", fingerprint(*ELECTION)),
        ("c", fingerprint(headline, truncated(body, 2))),
        ("d", fingerprint(STUB_LEADS[0], (LEGAL,))),
    ]
    runs = []
    for _ in range(2):
        index = InMemoryNearIndex()
        runs.append([await index.check_and_insert(i, fp, now=1.0) for i, fp in stream])
    assert runs[0] == runs[1]
    assert [m.article_id if m else None for m in runs[0]] == [None, None, "a", None]


def test_decision_rule_accepts_either_jaccard_or_containment() -> None:
    """High containment alone or Jaccard alone is enough; neither means a different story."""
    assert is_same_story(0.1, 0.9, DEFAULT_THRESHOLDS)
    assert is_same_story(0.35, 0.4, DEFAULT_THRESHOLDS)
    assert not is_same_story(0.1, 0.3, DEFAULT_THRESHOLDS)
