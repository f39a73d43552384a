"""Does an article match a subscription's filter? Pure functions over the article's tags.

An article is read as four sets of values: its topics (followable slugs and the IPTC codes of
its subjects), its entities' canonical ids, its language and its sources (outlet and site name,
compared case-insensitively). Entities match by canonical id, so a subscription on
``iso3166:KZ`` gets "Kazakhstan" in English and "Kasachstan" in German alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.messages import ArticleDeduplicated
from shared.subscriptions import Criteria, Filter, Subscription


@dataclass(frozen=True)
class ArticleValues:
    topics: frozenset[str]
    entities: frozenset[str]
    languages: frozenset[str]
    sources: frozenset[str]
    is_update: bool


def article_values(judged: ArticleDeduplicated) -> ArticleValues:
    tags, article = judged.tags, judged.article
    language = tags.language if tags.language != "und" else (article.language or "und")
    sources = {value.casefold() for value in (article.source, article.site_name) if value}
    return ArticleValues(
        topics=frozenset((*tags.topics, *(subject.code for subject in tags.subjects))),
        entities=frozenset(entity.id for entity in tags.entities if entity.id),
        languages=frozenset({language.split("-")[0].lower()}),
        sources=frozenset(sources),
        is_update=judged.verdict.status == "update",
    )


def _hits(criteria: Criteria, values: ArticleValues) -> list[bool]:
    """One boolean per value the criteria list: does the article carry it?"""
    return [
        *(topic in values.topics for topic in criteria.topics),
        *(entity in values.entities for entity in criteria.entities),
        *(language in values.languages for language in criteria.languages),
        *(source.casefold() in values.sources for source in criteria.sources),
    ]


def filter_matches(filter_: Filter, values: ArticleValues) -> bool:
    if values.is_update and not filter_.include_updates:
        return False
    if filter_.all is not None and not all(_hits(filter_.all, values)):
        return False
    if filter_.any is not None and not any(_hits(filter_.any, values)):
        return False
    return not (filter_.none is not None and any(_hits(filter_.none, values)))


def matching_subscriptions(
    subscriptions: Iterable[Subscription], judged: ArticleDeduplicated
) -> list[Subscription]:
    """The subscriptions that want this article, in the order given."""
    values = article_values(judged)
    return [sub for sub in subscriptions if filter_matches(sub.filter, values)]
