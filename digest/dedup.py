"""Recognising the same story twice: canonical URLs, exact content hashes, near-duplicates."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
from datasketch import MinHash, MinHashLSH
from rapidfuzz import fuzz

NUM_PERM = 64
# Stored signatures must be read back with the scheme that made them.
SCHEME = "affine32"
LSH_THRESHOLD = 0.5
# A candidate from the LSH is only a duplicate if title and lead really are close.
TITLE_SIMILARITY = 70.0
LEAD_SIMILARITY = 80.0
LEAD_CHARS = 600
SHINGLE_WORDS = 300

_TRACKING_PREFIXES = ("utm_", "mc_", "_hs", "pk_", "mtm_", "at_")
_TRACKING_NAMES = {
    "fbclid",
    "gclid",
    "dclid",
    "yclid",
    "msclkid",
    "igshid",
    "ref",
    "ref_src",
    "cmpid",
    "_ga",
    "_gl",
    "spm",
}
_WORD = re.compile(r"\w+", re.UNICODE)


def canonical_url(url: str) -> str:
    """The URL without tracking parameters, fragment, default port or trailing slash; host lowercased."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower() or "https"
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (scheme == "http" and parts.port == 80) or (scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in _TRACKING_NAMES and not key.lower().startswith(_TRACKING_PREFIXES)
    ]
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit((scheme, host, path, urlencode(sorted(query)), ""))


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_hash(title: str, text: str) -> str:
    """Hash of the words of title and text: equal for copies that differ only in markup or spacing."""
    digest = hashlib.sha1(" ".join(words(title) + words(text)).encode("utf-8"))
    return digest.hexdigest()


def minhash_of(title: str, text: str) -> MinHash:
    """MinHash over word 3-grams of the title and the start of the text."""
    tokens = (words(title) + words(text))[:SHINGLE_WORDS]
    shingles = {" ".join(tokens[i : i + 3]).encode("utf-8") for i in range(max(1, len(tokens) - 2))}
    signature = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    signature.update_batch(list(shingles))
    return signature


_HASH_DTYPE = MinHash(num_perm=NUM_PERM, scheme=SCHEME).hashvalues.dtype


def minhash_bytes(signature: MinHash) -> bytes:
    return signature.hashvalues.astype(_HASH_DTYPE).tobytes()


def minhash_from_bytes(data: bytes) -> MinHash:
    return MinHash(
        num_perm=NUM_PERM, scheme=SCHEME, hashvalues=np.frombuffer(data, dtype=_HASH_DTYPE)
    )


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


def is_near_duplicate(title_a: str, lead_a: str, title_b: str, lead_b: str) -> bool:
    """Near-identical title and body start, after an LSH candidate hit.

    Stories written from one template (a daily rates bulletin) share nearly every word but not
    their figures or dates: when the numbers differ, they are different stories.
    """
    numbers_a = _numbers(title_a + " " + lead_a[:LEAD_CHARS])
    numbers_b = _numbers(title_b + " " + lead_b[:LEAD_CHARS])
    if numbers_a and numbers_b:
        shared = len(numbers_a & numbers_b) / len(numbers_a | numbers_b)
        if shared < 0.5:
            return False
    title_score = fuzz.token_set_ratio(title_a.lower(), title_b.lower())
    lead_score = fuzz.ratio(lead_a[:LEAD_CHARS].lower(), lead_b[:LEAD_CHARS].lower())
    return (title_score >= TITLE_SIMILARITY and lead_score >= LEAD_SIMILARITY) or lead_score >= 95


@dataclass
class _Known:
    title: str
    lead: str
    published: datetime


@dataclass
class NearDupIndex:
    """Stories seen within a few days of each other, searchable for near-duplicates."""

    window: timedelta = timedelta(days=3)
    _lsh: MinHashLSH = field(init=False)
    _known: dict[int, _Known] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)

    def add(
        self,
        article_id: int,
        title: str,
        text: str,
        published: datetime,
        signature: MinHash | None = None,
    ) -> None:
        if article_id in self._known:
            return
        signature = signature or minhash_of(title, text)
        self._lsh.insert(article_id, signature)
        self._known[article_id] = _Known(title, text[:LEAD_CHARS], published)

    def find(
        self, title: str, text: str, published: datetime, signature: MinHash | None = None
    ) -> int | None:
        """Id of a known story this one duplicates, or None."""
        signature = signature or minhash_of(title, text)
        for article_id in sorted(self._lsh.query(signature)):
            known = self._known[article_id]
            if abs(known.published - published) > self.window:
                continue
            if is_near_duplicate(title, text, known.title, known.lead):
                return article_id
        return None

    def extend(self, items: Iterable[tuple[int, str, str, datetime, bytes | None]]) -> None:
        for article_id, title, lead, published, blob in items:
            signature = minhash_from_bytes(blob) if blob else None
            self.add(article_id, title, lead, published, signature)
