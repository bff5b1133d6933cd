"""Topic assignment: which countries, regions and subjects an article is about.

The keyword lists come from the config (`TopicConfig.keywords`), with this syntax:

- a word or phrase matches whole words, case-insensitively; a space or hyphen in a keyword matches
  any run of spaces and hyphens, an apostrophe any apostrophe sign;
- a trailing `*` matches every word that starts with the keyword (`Kazakh*`: Kazakhs, Kazakhstan's);
- a leading `?` marks weak evidence: it counts, at half weight, only for an article that also has
  an ordinary keyword of the same topic (`?manat` is Azerbaijan's currency too);
- `@key` in a region's list names a member topic: three or more assigned members imply the region.

Evidence for a topic: each hit weighs 3 in the title, 2 in the lead and 1 in the body; the
topic's hits are taken strongest first and each weighs 0.75 times the one before, so repeats add
less and less. Inside a longer matched keyword, shorter ones count only for places the longer one
did not already count for: "greenhouse gas" is climate and not energy, "Air Astana" is transport
and Kazakhstan. A region also needs a hit in the title or lead of its own keywords.

A topic is assigned when its evidence reaches the threshold of its kind (a lead mention for a
place, a title mention or several lead and body mentions for a subject). The score is
1 - 2 ** (-evidence / threshold): every assigned topic scores from 0.5 (just enough evidence for
its kind) towards 1, so scores compare across topics and kinds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from digest.config import ConfigError, TopicConfig

TITLE_WEIGHT = 3.0
# Below the country pass mark on its own: a country named once in the lead and never again is
# a mention ("...on the border with Uzbekistan"), not the subject.
LEAD_WEIGHT = 1.5
BODY_WEIGHT = 1.0
WEAK_FACTOR = 0.5
REPEAT_DECAY = 0.75
THRESHOLDS = {"country": 2.0, "region": 2.0, "subject": 3.0}
REGION_MIN_MEMBERS = 3
LEAD_MIN_CHARS = 80  # a shorter first paragraph is a dateline or a kicker
LEAD_MAX_CHARS = 400

_PLACE_KINDS = frozenset({"country", "region"})
_APOSTROPHES = "'\u2018\u2019\u02bb\u02bc`"
_SEP_CLASS = r"[\s\-\u2010\u2011]+"
_SEP = re.compile(_SEP_CLASS)
_APOS_TO_PLAIN = str.maketrans({c: "'" for c in _APOSTROPHES})
_WHITESPACE = re.compile(r"\s")
_CACHE_LIMIT = 20_000


@dataclass(frozen=True)
class _Keyword:
    text: str  # lower case, separators as one space, apostrophes as '
    prefix: bool
    weak: bool


@dataclass(frozen=True)
class TopicMatcher:
    """The topics compiled once: one regex for every keyword and tables from match to topic."""

    topics: tuple[TopicConfig, ...]
    pattern: re.Pattern[str]
    exact: dict[str, dict[int, bool]]  # keyword -> {topic index: strong}
    prefixes: dict[str, dict[int, bool]]
    prefix_lengths: tuple[int, ...]
    members: dict[int, tuple[int, ...]]  # region index -> member topic indexes
    _spans: dict[str, tuple[tuple[int, int, bool], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )


def compile_topics(topics: Sequence[TopicConfig]) -> TopicMatcher:
    """Build the matcher for `topics`; raises ConfigError for a keyword it cannot use."""
    topics = tuple(topics)
    index = {t.key: i for i, t in enumerate(topics)}
    exact: dict[str, dict[int, bool]] = {}
    prefixes: dict[str, dict[int, bool]] = {}
    members: dict[int, tuple[int, ...]] = {}
    trie = _Node()
    for i, topic in enumerate(topics):
        keywords, member_keys = _parse_keywords(topic)
        for key in member_keys:
            if key not in index or key == topic.key:
                raise ConfigError(f"topic '{topic.key}': '@{key}' does not name another topic")
        if member_keys:
            members[i] = tuple(index[key] for key in member_keys)
        for kw in keywords:
            table = prefixes if kw.prefix else exact
            found = table.setdefault(kw.text, {})
            found[i] = found.get(i, False) or not kw.weak
            trie.add(kw.text, kw.prefix)
    body = trie.regex() or r"(?!)"
    # A lookahead finds the longest keyword at every word start, so phrases may overlap.
    pattern = re.compile(rf"(?<!\w)(?=({body})(?!\w))")
    lengths = tuple(sorted({len(p) for p in prefixes}, reverse=True))
    return TopicMatcher(topics, pattern, exact, prefixes, lengths, members)


def assign_topics(matcher: TopicMatcher, title: str, text: str) -> dict[str, float]:
    """Topic key -> score in [0.5, 1) for the topics the article is about, best first."""
    lead, body = _split_lead(text)
    hits: dict[int, list[tuple[float, bool]]] = {}
    explicit: set[int] = set()
    for zone, weight in ((title, TITLE_WEIGHT), (lead, LEAD_WEIGHT), (body, BODY_WEIGHT)):
        for i, strong in _zone_hits(matcher, zone.lower()):
            hits.setdefault(i, []).append((weight, strong))
            if strong and weight > BODY_WEIGHT:
                explicit.add(i)
    topics = matcher.topics
    evidence: dict[int, float] = {}
    for i, found in hits.items():
        if topics[i].kind == "region" and i not in explicit:
            continue
        value = _evidence(found)
        if value >= _threshold(topics[i]):
            evidence[i] = value
    for i, member_ids in matcher.members.items():
        present = sorted((evidence[m] for m in member_ids if m in evidence), reverse=True)
        if len(present) >= REGION_MIN_MEMBERS:
            # A region backed by its members is as certain as its third-best member.
            evidence[i] = max(evidence.get(i, 0.0), present[REGION_MIN_MEMBERS - 1])
    scores = [
        (round(1 - 2 ** (-evidence[i] / _threshold(topics[i])), 3), i) for i in sorted(evidence)
    ]
    return {topics[i].key: score for score, i in sorted(scores, key=lambda item: -item[0])}


def _split_lead(text: str) -> tuple[str, str]:
    """The lead (the first paragraph, or about the first 400 characters) and the rest of `text`."""
    end = text.find("\n\n", LEAD_MIN_CHARS, LEAD_MAX_CHARS)
    if end == -1:
        if len(text) <= LEAD_MAX_CHARS:
            return text, ""
        space = _WHITESPACE.search(text, LEAD_MAX_CHARS)
        if space is None:
            return text, ""
        end = space.start()
    return text[:end], text[end:]


def _threshold(topic: TopicConfig) -> float:
    return THRESHOLDS.get(topic.kind, THRESHOLDS["subject"])


def _evidence(found: list[tuple[float, bool]]) -> float:
    """Weighted hits, strongest first, each worth REPEAT_DECAY times the one before."""
    if not any(strong for _, strong in found):
        return 0.0
    weights = sorted((w if strong else w * WEAK_FACTOR for w, strong in found), reverse=True)
    total, factor = 0.0, 1.0
    for weight in weights:
        total += weight * factor
        factor *= REPEAT_DECAY
    return total


def _zone_hits(matcher: TopicMatcher, zone: str) -> list[tuple[int, bool]]:
    """(topic index, strong) for every counted keyword hit in one lower-cased zone."""
    if not zone:
        return []
    found: list[tuple[int, bool]] = []
    reach_any = -1  # end of the furthest-reaching keyword so far
    reach: dict[int, int] = {}  # topic index -> end of its furthest-reaching hit
    topics = matcher.topics
    for match in matcher.pattern.finditer(zone):
        start = match.start()
        resolved = _resolve(matcher, match.group(1))
        if not resolved:
            continue
        longest = resolved[0][0]
        for length, i, strong in resolved:
            end = start + length
            if reach.get(i, -1) >= end:
                continue  # inside a longer keyword of the same topic
            inside = length < longest or end <= reach_any
            if inside and topics[i].kind not in _PLACE_KINDS:
                continue
            found.append((i, strong))
            reach[i] = end
        reach_any = max(reach_any, start + longest)
    return found


def _resolve(matcher: TopicMatcher, span: str) -> tuple[tuple[int, int, bool], ...]:
    """(length, topic index, strong) of every keyword matching `span` or a word-prefix of it.

    Longest first, so an enclosing keyword is seen before the keywords inside it.
    """
    cached = matcher._spans.get(span)
    if cached is not None:
        return cached
    cuts = [m.start() for m in _SEP.finditer(span)] + [len(span)]
    result: list[tuple[int, int, bool]] = []
    for cut in reversed(cuts):
        piece = _normalise(span[:cut])
        found = dict(matcher.exact.get(piece, {}))
        for k in matcher.prefix_lengths:
            if k <= len(piece) and " " not in piece[k:]:
                for i, strong in matcher.prefixes.get(piece[:k], {}).items():
                    found[i] = found.get(i, False) or strong
        result.extend((cut, i, strong) for i, strong in found.items())
    resolved = tuple(result)
    if len(matcher._spans) >= _CACHE_LIMIT:
        matcher._spans.clear()
    matcher._spans[span] = resolved
    return resolved


def _normalise(keyword: str) -> str:
    return _SEP.sub(" ", keyword.lower().translate(_APOS_TO_PLAIN)).strip()


def _parse_keywords(topic: TopicConfig) -> tuple[list[_Keyword], list[str]]:
    """The topic's keywords and the member keys its `@key` entries name."""
    keywords: list[_Keyword] = []
    member_keys: list[str] = []
    for raw in topic.keywords:
        word = raw.strip()
        if word.startswith("@"):
            if topic.kind != "region":
                raise ConfigError(
                    f"topic '{topic.key}': '{raw}' names a member topic, which only a region has"
                )
            member_keys.append(word[1:])
            continue
        weak = word.startswith("?")
        prefix = word.endswith("*")
        text = _normalise(word[1 if weak else 0 : len(word) - 1 if prefix else len(word)])
        if not text or "*" in text or "?" in text:
            raise ConfigError(
                f"topic '{topic.key}': keyword '{raw}' is not a word or phrase "
                "(only a leading ? and a trailing * are special)"
            )
        keywords.append(_Keyword(text, prefix, weak))
    if not any(not kw.weak for kw in keywords) and not member_keys:
        raise ConfigError(
            f"topic '{topic.key}' has only weak (?) keywords: it could never be assigned"
        )
    return keywords, member_keys


class _Node:
    """A character trie of keywords, turned into one regex that branches a letter at a time."""

    __slots__ = ("children", "end", "prefix")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.end = False
        self.prefix = False

    def add(self, text: str, prefix: bool) -> None:
        node = self
        for char in text:
            node = node.children.setdefault(char, _Node())
        if prefix:
            node.prefix = True
        else:
            node.end = True

    def regex(self) -> str:
        # Longer continuations come first, so the longest keyword at a position wins.
        alternatives = [_char_regex(c) + child.regex() for c, child in self.children.items()]
        if self.prefix:
            alternatives.append(r"\w*")
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
        if self.end and not self.prefix:
            body = f"(?:{body})?"
        return body


def _char_regex(char: str) -> str:
    if char == " ":
        return _SEP_CLASS
    if char == "'":
        return f"[{_APOSTROPHES}]"
    return re.escape(char)
