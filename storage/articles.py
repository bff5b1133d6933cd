"""Queries over articles, their sources and topics."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from storage.db import from_iso, utc_iso
from storage.records import Article


@dataclass(frozen=True)
class DedupCandidate:
    """What near-duplicate detection needs to know about a stored article."""

    id: int
    title: str
    lead: str
    published: datetime
    minhash: bytes | None


def find_by_url(db: Database, url: str) -> int | None:
    """Id of the article stored under this canonical URL, or carried by a source under it."""
    row = db.execute("select id from articles where url = ?", [url]).fetchone()
    if row:
        return row[0]
    row = db.execute("select article_id from article_sources where url = ?", [url]).fetchone()
    return row[0] if row else None


def find_by_hash(db: Database, content_hash: str) -> int | None:
    """Id of an article with exactly this normalised content."""
    row = db.execute(
        "select id from articles where content_hash = ? limit 1", [content_hash]
    ).fetchone()
    return row[0] if row else None


def insert_article(
    db: Database, article: Article, fetched_at: datetime, minhash: bytes | None = None
) -> int:
    """Store a new article with its first source and its topics, all or nothing."""
    with db.atomic():
        article_id = (
            db["articles"]
            .insert(
                {
                    "url": article.url,
                    "title": article.title,
                    "source": article.source,
                    "published": utc_iso(article.published),
                    "fetched_at": utc_iso(fetched_at),
                    "text": article.text,
                    "summary": article.summary,
                    "content_hash": article.content_hash,
                    "minhash": minhash,
                }
            )
            .last_pk
        )
        db["article_sources"].insert(
            {
                "article_id": article_id,
                "source": article.source,
                "url": article.url,
                "seen_at": utc_iso(fetched_at),
            }
        )
        if article.topics:
            db["article_topics"].insert_all(
                {"article_id": article_id, "topic": topic, "score": score}
                for topic, score in article.topics.items()
            )
    article.id = article_id
    return article_id


def text_length(db: Database, article_id: int) -> int:
    row = db.execute("select length(text) from articles where id = ?", [article_id]).fetchone()
    return row[0] if row else 0


def update_article_body(
    db: Database,
    article_id: int,
    *,
    text: str,
    summary: str,
    content_hash: str,
    topics: dict[str, float],
    minhash: bytes | None,
) -> None:
    """Replace a stored article's text and what is derived from it, all or nothing."""
    with db.atomic():
        db["articles"].update(
            article_id,
            {"text": text, "summary": summary, "content_hash": content_hash, "minhash": minhash},
        )
        db.execute("delete from article_topics where article_id = ?", [article_id])
        if topics:
            db["article_topics"].insert_all(
                {"article_id": article_id, "topic": topic, "score": score}
                for topic, score in topics.items()
            )


def add_source(db: Database, article_id: int, source: str, url: str, seen_at: datetime) -> bool:
    """Remember that `source` also carried the article (under `url`); False if already known."""
    with db.atomic():
        cursor = db.execute(
            "insert or ignore into article_sources (article_id, source, url, seen_at)"
            " values (?, ?, ?, ?)",
            [article_id, source, url, utc_iso(seen_at)],
        )
    return cursor.rowcount > 0


def dedup_candidates(db: Database, since: datetime, until: datetime) -> list[DedupCandidate]:
    """Articles published in [since, until], for near-duplicate checks of a new batch."""
    rows = db.execute(
        "select id, title, substr(text, 1, 600), published, minhash from articles"
        " where published >= ? and published <= ?",
        [utc_iso(since), utc_iso(until)],
    ).fetchall()
    return [DedupCandidate(r[0], r[1], r[2], from_iso(r[3]), r[4]) for r in rows]


def recent_articles(
    db: Database,
    since: datetime,
    until: datetime | None = None,
    topics: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Article]:
    """Articles published in the window, newest first; with `topics`, only those tagged with one."""
    where = ["a.published >= ?"]
    params: list[object] = [utc_iso(since)]
    if until is not None:
        where.append("a.published <= ?")
        params.append(utc_iso(until))
    if topics is not None:
        if not topics:
            return []
        marks = ", ".join("?" for _ in topics)
        where.append(f"a.id in (select article_id from article_topics where topic in ({marks}))")
        params.extend(topics)
    sql = f"select a.* from articles a where {' and '.join(where)} order by a.published desc, a.id"
    if limit is not None:
        sql += " limit ?"
        params.append(limit)
    return _with_details(db, db.execute_returning_dicts(sql, params))


def search_articles(db: Database, query: str, limit: int = 10) -> list[Article]:
    """Full-text search over titles and text, best match first; the query is taken as words."""
    words = re.findall(r"\w+", query)
    if not words:
        return []
    rows = list(db["articles"].search(" ".join(words), limit=limit, quote=True))
    return _with_details(db, rows)


def get_articles(db: Database, ids: Iterable[int]) -> list[Article]:
    """Articles by id, in the order given."""
    ids = list(ids)
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    rows = db.execute_returning_dicts(f"select * from articles where id in ({marks})", ids)
    by_id = {a.id: a for a in _with_details(db, rows)}
    return [by_id[i] for i in ids if i in by_id]


def count_articles(db: Database) -> int:
    return db["articles"].count


def _with_details(db: Database, rows: list[dict]) -> list[Article]:
    """Turn article rows into records with their sources and topics filled in."""
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    marks = ", ".join("?" for _ in ids)
    sources: dict[int, list[str]] = {i: [] for i in ids}
    for article_id, source in db.execute(
        f"select article_id, source from article_sources where article_id in ({marks})"
        " order by seen_at, rowid",
        ids,
    ):
        if source not in sources[article_id]:
            sources[article_id].append(source)
    topics: dict[int, dict[str, float]] = {i: {} for i in ids}
    for article_id, topic, score in db.execute(
        f"select article_id, topic, score from article_topics where article_id in ({marks})", ids
    ):
        topics[article_id][topic] = score
    return [
        Article(
            id=r["id"],
            url=r["url"],
            title=r["title"],
            source=r["source"],
            published=from_iso(r["published"]),
            text=r["text"],
            summary=r["summary"] or "",
            content_hash=r["content_hash"] or "",
            sources=sources[r["id"]],
            topics=topics[r["id"]],
        )
        for r in rows
    ]


def prune_articles(db: Database, before: datetime) -> int:
    """Delete articles published before `before`, with their sources and topics."""
    cutoff = utc_iso(before)
    with db.atomic():
        old = "select id from articles where published < ?"
        db.execute(f"delete from article_topics where article_id in ({old})", [cutoff])
        db.execute(f"delete from article_sources where article_id in ({old})", [cutoff])
        return db.execute("delete from articles where published < ?", [cutoff]).rowcount
