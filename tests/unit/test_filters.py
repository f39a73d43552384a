"""Subscription filters: what they accept, what they refuse, and which articles they match."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.pusher.filters import article_values, filter_matches, matching_subscriptions
from services.tagger.tagging import Tagger
from shared.messages import ArticleDeduplicated, Tags
from shared.subscriptions import Filter, Subscription
from tests import factories

pytestmark = pytest.mark.unit


def _judged(tags: Tags | None = None, status: str = "unique", **article: object) -> ArticleDeduplicated:
    return ArticleDeduplicated(
        article=factories.article(**article),
        tags=tags or factories.tags(),
        verdict=factories.verdict(status),
    )


def _matches(filter_json: dict, judged: ArticleDeduplicated) -> bool:
    return filter_matches(Filter.model_validate(filter_json), article_values(judged))


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger()


def test_empty_filter_takes_every_article() -> None:
    """A filter that says nothing matches any article."""
    assert _matches({}, _judged())


@pytest.mark.parametrize(
    ("filter_json", "expected"),
    [
        ({"any": {"topics": ["politics"]}}, True),
        ({"any": {"topics": ["sport"]}}, False),
        ({"any": {"topics": ["medtop:11000000"]}}, True),
        ({"any": {"topics": ["11000000"]}}, True),
        ({"any": {"topics": ["http://cv.iptc.org/newscodes/mediatopic/11000000"]}}, True),
        ({"any": {"topics": ["sport", "place:KZ"]}}, True),
        ({"all": {"topics": ["politics", "place:KZ"]}}, True),
        ({"all": {"topics": ["politics", "sport"]}}, False),
        ({"none": {"topics": ["sport"]}}, True),
        ({"none": {"entities": ["iso3166:KZ"]}}, False),
        ({"any": {"languages": ["de", "fr"]}}, True),
        ({"any": {"languages": ["en"]}}, False),
        ({"any": {"sources": ["deutsche tageszeitung"]}}, True),
        ({"any": {"sources": ["Other Paper"]}}, False),
        ({"all": {"languages": ["de"], "entities": ["iso3166:KZ"]}, "none": {"sources": ["Other"]}}, True),
        ({"all": {"languages": ["de"], "entities": ["iso3166:RU"]}}, False),
    ],
)
def test_any_all_none_over_topics_entities_languages_sources(filter_json: dict, expected: bool) -> None:
    """The sample article (German, politics, place:KZ, Deutsche Tageszeitung) against each filter."""
    assert _matches(filter_json, _judged()) is expected


def test_updates_are_left_out_when_the_filter_says_so() -> None:
    """include_updates false drops an update verdict, keeps a unique one."""
    assert _matches({"include_updates": False}, _judged(status="unique"))
    assert not _matches({"include_updates": False}, _judged(status="update"))
    assert _matches({}, _judged(status="update"))


def test_entity_written_in_another_language_matches_by_canonical_id(tagger: Tagger) -> None:
    """'Kazakhstan' in English and 'Kasachstan' in German both match a subscription on iso3166:KZ,
    and on place:KZ; an article about another country matches neither."""
    english = factories.article(
        "en", headline="Kazakhstan raises its wheat export quota",
        body=("The government in Astana said the harvest was larger than expected.",),
    )  # fmt: skip
    german = factories.article(
        "de", headline="Kasachstan erhöht die Ausfuhrquote für Weizen",
        body=("Die Regierung in Astana sagte, die Ernte sei größer als erwartet.",),
    )  # fmt: skip
    other = factories.article(
        "fr", headline="Canada raises its wheat export quota",
        body=("The government in Ottawa said the harvest was larger than expected.",),
    )  # fmt: skip
    by_entity = Subscription(name="kz", filter=Filter.model_validate({"any": {"entities": ["iso3166:KZ"]}}))
    by_topic = Subscription(name="kz-topic", filter=Filter.model_validate({"all": {"topics": ["place:KZ"]}}))
    matched, languages = {}, {}
    for article in (english, german, other):
        judged = ArticleDeduplicated(article=article, tags=tagger.tag(article), verdict=factories.verdict())
        languages[article.id] = judged.tags.language
        matched[article.id] = [s.name for s in matching_subscriptions([by_entity, by_topic], judged)]
    assert languages == {"en": "en", "de": "de", "fr": "en"}
    assert matched == {"en": ["kz", "kz-topic"], "de": ["kz", "kz-topic"], "fr": []}


@pytest.mark.parametrize(
    ("filter_json", "where", "says"),
    [
        ({"any": {"topics": ["Politics!"]}}, ("any", "topics"), "neither an IPTC Media Topic code"),
        ({"all": {"entities": ["Kazakhstan"]}}, ("all", "entities"), "not a canonical entity id"),
        ({"none": {"languages": ["german"]}}, ("none", "languages"), "not an ISO 639-1"),
        ({"any": {"sources": [" "]}}, ("any", "sources"), "must not be empty"),
        ({"any": {"topic": ["politics"]}}, ("any", "topic"), "Extra inputs"),
        ({"all": {"languages": ["de", "en"]}}, (), "all.languages"),
        ({"any": {}}, (), "any: lists no topics"),
        ({"include_updates": "perhaps"}, ("include_updates",), "boolean"),
    ],
)
def test_invalid_filters_say_what_is_wrong_and_where(filter_json: dict, where: tuple, says: str) -> None:
    """Each invalid filter raises a validation error located at the offending field, with a reason."""
    with pytest.raises(ValidationError) as caught:
        Filter.model_validate(filter_json)
    (error,) = caught.value.errors()
    assert tuple(part for part in error["loc"] if not isinstance(part, int))[: len(where)] == where
    assert says in error["msg"]
