"""Subscriptions: who wants which articles, and how they get them.

A subscription has a ``name``, a ``filter`` and a ``delivery``. Every subscription has its own
stream ``newswire:sub:<name>`` (plain fields, readable by any Redis client, also what SSE and
webhook delivery read); a webhook subscription additionally gets each entry POSTed, signed per
Standard Webhooks. Subscriptions live in Redis; a version counter that every change increments
lets the pusher see a change on the very next article, without a restart or a message bus.

The webhook secrets are kept apart from the subscription (``SubscriptionStore.secrets``): the
API shows a secret once, when it is made, and never lists it again.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Sequence
from typing import Annotated, Literal, Protocol
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.messages import SUBSCRIPTION_STREAM_PREFIX

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*(:[A-Za-z0-9._-]+)?$")
_IPTC_CODE = re.compile(r"^(?:medtop:|http://cv\.iptc\.org/newscodes/mediatopic/)?(\d{8})$")
_ENTITY_ID = re.compile(r"^[a-z][a-z0-9-]*:[A-Za-z0-9._-]+$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
MAX_VALUES = 200  # per list: a filter is a question, not a data set

# Redis keys.
SUBSCRIPTIONS_KEY = "newswire:subscriptions"
SECRETS_KEY = "newswire:subscriptions:secrets"
VERSION_KEY = "newswire:subscriptions:version"
WEBHOOK_KEY_PREFIX = "newswire:webhooks:"


def subscription_stream(name: str) -> str:
    """The stream of one subscription (every delivery kind has one)."""
    return f"{SUBSCRIPTION_STREAM_PREFIX}{name}"


def webhook_keys(name: str) -> dict[str, str]:
    """The webhook dispatcher's per-subscription state, deleted with the subscription."""
    return {
        "retries": f"{WEBHOOK_KEY_PREFIX}retry:{name}",  # sorted set: entry id by due time
        "attempts": f"{WEBHOOK_KEY_PREFIX}attempts:{name}",  # hash: entry id -> attempts made
        "endpoint": f"{WEBHOOK_KEY_PREFIX}endpoint:{name}",  # hash: failing_since, disabled_*
    }


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def normalise_topic(value: str) -> str:
    """An IPTC code in any of its spellings becomes ``medtop:NNNNNNNN``; a slug stays as it is."""
    value = value.strip()
    code = _IPTC_CODE.match(value)
    if code:
        return f"medtop:{code.group(1)}"
    if _SLUG.match(value):
        return value
    msg = (
        f"{value!r} is neither an IPTC Media Topic code (medtop:11000000, 11000000 or its URI) "
        "nor a topic slug (politics, place:KZ)"
    )
    raise ValueError(msg)


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


class Criteria(_Frozen):
    """Values an article may carry: topics (IPTC codes or slugs), entity ids, languages, sources."""

    topics: tuple[str, ...] = Field(default=(), max_length=MAX_VALUES, description="IPTC codes or slugs.")
    entities: tuple[str, ...] = Field(
        default=(), max_length=MAX_VALUES, description="Canonical entity ids, e.g. iso3166:KZ."
    )
    languages: tuple[str, ...] = Field(default=(), max_length=MAX_VALUES, description="ISO 639-1 codes.")
    sources: tuple[str, ...] = Field(
        default=(), max_length=MAX_VALUES, description="Outlets (source or site name), any case."
    )

    @field_validator("topics")
    @classmethod
    def _topics(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique([normalise_topic(v) for v in values])

    @field_validator("entities")
    @classmethod
    def _entities(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not _ENTITY_ID.match(value):
                msg = (
                    f"{value!r} is not a canonical entity id (scheme:value, e.g. iso3166:KZ, wikidata:Q7747)"
                )
                raise ValueError(msg)
        return _unique(values)

    @field_validator("languages")
    @classmethod
    def _languages(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        normal = [v.strip().lower() for v in values]
        for value in normal:
            if not _LANGUAGE.match(value):
                raise ValueError(f"{value!r} is not an ISO 639-1 language code (two letters, e.g. de)")
        return _unique(normal)

    @field_validator("sources")
    @classmethod
    def _sources(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        normal = [v.strip() for v in values]
        if any(not v for v in normal):
            raise ValueError("a source must not be empty")
        return _unique(normal)

    def is_empty(self) -> bool:
        return not (self.topics or self.entities or self.languages or self.sources)


class Filter(_Frozen):
    """Which articles a subscription wants.

    ``all``: the article carries every listed value; ``any``: at least one; ``none``: not one.
    An omitted part does not constrain; an empty filter takes every article.
    ``include_updates``: also articles the dedup judged an update of an earlier story.
    """

    all: Criteria | None = None
    any: Criteria | None = None
    none: Criteria | None = None
    include_updates: bool = True

    @model_validator(mode="after")
    def _satisfiable(self) -> Filter:
        if self.all is not None and len(self.all.languages) > 1:
            msg = "all.languages: an article has one language, so it can never carry all of several; "
            raise ValueError(msg + "list them under any.languages")
        for part in ("all", "any", "none"):
            criteria: Criteria | None = getattr(self, part)
            if criteria is not None and criteria.is_empty():
                raise ValueError(f"{part}: lists no topics, entities, languages or sources; omit it instead")
        return self


class StreamDelivery(_Frozen):
    """Read ``newswire:sub:<name>`` yourself (consumer group, XREAD, or SSE)."""

    kind: Literal["stream"] = "stream"


class WebhookDelivery(_Frozen):
    """POST each article to ``url``, signed per Standard Webhooks."""

    kind: Literal["webhook"] = "webhook"
    url: str = Field(max_length=2048, description="http(s) URL; must resolve to public addresses only.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise ValueError("the webhook URL must use http or https")
        if not parts.hostname:
            raise ValueError("the webhook URL has no host")
        if parts.username or parts.password:
            raise ValueError("the webhook URL must not carry credentials; use the signature to authenticate")
        try:
            parts.port  # noqa: B018 (urlsplit validates the port lazily, on access)
        except ValueError as error:
            raise ValueError(f"the webhook URL has an invalid port: {error}") from error
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def literal_address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The host when it is written as an IP address."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


Delivery = Annotated[StreamDelivery | WebhookDelivery, Field(discriminator="kind")]


class Subscription(_Frozen):
    name: str = Field(pattern=NAME_PATTERN, description="Lower case letters, digits, - and _.")
    filter: Filter = Filter()
    delivery: Delivery = StreamDelivery()

    @property
    def stream(self) -> str:
        return subscription_stream(self.name)

    @property
    def webhook(self) -> WebhookDelivery | None:
        return self.delivery if isinstance(self.delivery, WebhookDelivery) else None


class WebhookSecret(_Frozen):
    """A signing secret; an old one keeps signing until ``expires_at`` (epoch s) after a rotation."""

    value: str
    expires_at: float | None = None

    def live(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


def live_secrets(secrets: Sequence[WebhookSecret], now: float) -> tuple[WebhookSecret, ...]:
    return tuple(secret for secret in secrets if secret.live(now))


class SubscriptionStore(Protocol):
    async def create(self, subscription: Subscription, secret: WebhookSecret | None = None) -> bool:
        """Store a new subscription; False when the name is taken."""
        ...

    async def get(self, name: str) -> Subscription | None: ...

    async def list(self) -> list[Subscription]: ...

    async def delete(self, name: str) -> bool:
        """Remove it with its stream and webhook state; False when there was none."""
        ...

    async def version(self) -> int:
        """A number that changes whenever any subscription does."""
        ...

    async def secrets(self, name: str) -> tuple[WebhookSecret, ...]: ...

    async def rotate_secret(self, name: str, new: WebhookSecret, grace_seconds: float) -> bool:
        """Make ``new`` the secret; the current ones stay live for ``grace_seconds``."""
        ...


def _rotated(
    current: Sequence[WebhookSecret], new: WebhookSecret, now: float, grace: float
) -> list[WebhookSecret]:
    kept = [
        WebhookSecret(value=s.value, expires_at=min(s.expires_at or now + grace, now + grace))
        for s in live_secrets(current, now)
    ]
    return [new, *kept]


class InMemorySubscriptionStore:
    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.secret_lists: dict[str, tuple[WebhookSecret, ...]] = {}
        self._version = 0

    async def create(self, subscription: Subscription, secret: WebhookSecret | None = None) -> bool:
        if subscription.name in self.subscriptions:
            return False
        self.subscriptions[subscription.name] = subscription
        if secret is not None:
            self.secret_lists[subscription.name] = (secret,)
        self._version += 1
        return True

    async def get(self, name: str) -> Subscription | None:
        return self.subscriptions.get(name)

    async def list(self) -> list[Subscription]:
        return [self.subscriptions[name] for name in sorted(self.subscriptions)]

    async def delete(self, name: str) -> bool:
        if self.subscriptions.pop(name, None) is None:
            return False
        self.secret_lists.pop(name, None)
        self._version += 1
        return True

    async def version(self) -> int:
        return self._version

    async def secrets(self, name: str) -> tuple[WebhookSecret, ...]:
        return self.secret_lists.get(name, ())

    async def rotate_secret(self, name: str, new: WebhookSecret, grace_seconds: float) -> bool:
        if name not in self.subscriptions:
            return False
        current = self.secret_lists.get(name, ())
        self.secret_lists[name] = tuple(_rotated(current, new, time.time(), grace_seconds))
        self._version += 1
        return True


# KEYS: subscriptions hash, secrets hash, version; ARGV: name, subscription JSON, secrets JSON or "".
_CREATE_SCRIPT = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
redis.call('INCR', KEYS[3])
return 1
"""

# KEYS: subscriptions hash, secrets hash, version, then keys owned by the subscription; ARGV: name.
_DELETE_SCRIPT = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[3])
for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
"""


class RedisSubscriptionStore:
    """Subscriptions in one hash (name -> JSON), secrets in another, and a version counter."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._create = client.register_script(_CREATE_SCRIPT)
        self._delete = client.register_script(_DELETE_SCRIPT)

    async def create(self, subscription: Subscription, secret: WebhookSecret | None = None) -> bool:
        secrets = json.dumps([secret.model_dump()]) if secret is not None else ""
        created = await self._create(
            keys=[SUBSCRIPTIONS_KEY, SECRETS_KEY, VERSION_KEY],
            args=[subscription.name, subscription.model_dump_json(), secrets],
        )
        return bool(created)

    async def get(self, name: str) -> Subscription | None:
        raw = await self._client.hget(SUBSCRIPTIONS_KEY, name)
        return None if raw is None else Subscription.model_validate_json(raw)

    async def list(self) -> list[Subscription]:
        raw = await self._client.hgetall(SUBSCRIPTIONS_KEY)
        found = [Subscription.model_validate_json(value) for value in raw.values()]
        return sorted(found, key=lambda s: s.name)

    async def delete(self, name: str) -> bool:
        owned = [subscription_stream(name), *webhook_keys(name).values()]
        deleted = await self._delete(keys=[SUBSCRIPTIONS_KEY, SECRETS_KEY, VERSION_KEY, *owned], args=[name])
        return bool(deleted)

    async def version(self) -> int:
        return int(await self._client.get(VERSION_KEY) or 0)

    async def secrets(self, name: str) -> tuple[WebhookSecret, ...]:
        raw = await self._client.hget(SECRETS_KEY, name)
        if raw is None:
            return ()
        return tuple(WebhookSecret.model_validate(item) for item in json.loads(raw))

    async def rotate_secret(self, name: str, new: WebhookSecret, grace_seconds: float) -> bool:
        # Rotations are rare and made by an operator: a WATCHed transaction is plenty.
        async with self._client.pipeline(transaction=True) as pipe:
            await pipe.watch(SUBSCRIPTIONS_KEY, SECRETS_KEY)
            if not await pipe.hexists(SUBSCRIPTIONS_KEY, name):
                return False
            current = await self.secrets(name)
            rotated = _rotated(current, new, time.time(), grace_seconds)
            pipe.multi()
            pipe.hset(SECRETS_KEY, name, json.dumps([s.model_dump() for s in rotated]))
            pipe.incr(VERSION_KEY)
            await pipe.execute()
        return True
