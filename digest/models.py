"""Records of the digest engine that storage does not keep as such."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Entry:
    """One story as a feed, a page or an imported file gives it, before dedup and storage.

    `text` is plain text, paragraphs separated by a blank line. `published` is timezone-aware UTC or
    None when the source gave no usable date. `is_teaser` says the text is only a teaser and the
    page at `url` should be fetched for the body.
    """

    title: str
    url: str | None
    source: str
    text: str
    published: datetime | None = None
    is_teaser: bool = False
    tags: list[str] = field(default_factory=list)
