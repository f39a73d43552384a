"""What intake accepts: a JSON input item, structured or a raw page (DESIGN.md, "Input item")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ArticleIn(BaseModel):
    """One input item: ``headline`` + ``body``, or the ``html`` or ``text`` of a whole page."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    headline: str | None = Field(default=None, max_length=1_000)
    body: str | list[str] | None = Field(
        default=None, description="Main text: a string (blank lines separate paragraphs) or a list."
    )
    html: str | None = Field(default=None, description="A whole HTML page.")
    text: str | None = Field(default=None, description="A whole page scraped as text.")
    url: str | None = Field(default=None, max_length=4_096)
    guid: str | None = Field(default=None, max_length=1_024)
    source: str | None = Field(default=None, max_length=256)
    language: str | None = Field(default=None, max_length=35, description="BCP 47 tag, if known.")
    published_at: datetime | None = None
    authors: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("body")
    @classmethod
    def _paragraphs(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list):
            return [paragraph.strip() for paragraph in value if paragraph.strip()]
        return value

    @model_validator(mode="after")
    def _one_kind_of_content(self) -> ArticleIn:
        kinds = [name for name in ("html", "text") if getattr(self, name)]
        structured = bool(self.headline or self.body)
        if len(kinds) + structured != 1:
            msg = "give exactly one of: `headline` and `body`, `html`, or `text`"
            raise ValueError(msg)
        if structured and not (self.headline and self.body):
            msg = "a structured item needs both a non-empty `headline` and a non-empty `body`"
            raise ValueError(msg)
        return self

    @property
    def body_paragraphs(self) -> tuple[str, ...]:
        if self.body is None:
            return ()
        if isinstance(self.body, list):
            return tuple(self.body)
        return tuple(part.strip() for part in self.body.split("\n\n") if part.strip())
