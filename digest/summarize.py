"""Offline extractive summaries: an article's own lead sentences, without the page's furniture."""

from __future__ import annotations

import re
from collections.abc import Iterator

import nupunkt

# Abbreviations after which the splitter's break is always wrong in this region's English news.
ABBREVIATIONS = frozenset(
    {
        "Natl.", "Intl.", "Gov.", "Dept.", "Govt.", "Assn.", "Univ.",
        "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Gen.", "Sen.", "Rep.", "Pres.", "Amb.",
        "Lt.", "Col.", "Maj.", "Capt.", "Adm.", "Sgt.", "St.", "Mt.", "Ave.",
        "Jan.", "Feb.", "Mar.", "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.",
        "Oct.", "Nov.", "Dec.",
        # Two-letter initials of transliterated Central Asian names: "Sh. Mirziyoyev".
        "Sh.", "Zh.", "Ch.", "Kh.", "Ts.", "Yu.", "Ya.", "Ye.",
    }
)  # fmt: skip
# Abbreviations (and single-letter initials) that can also end a sentence: re-joined only when
# the next word is not a typical sentence opener ("...in the U.S. The ..." stays split).
AMBIGUOUS_ABBREVIATIONS = frozenset(
    {"U.S.", "U.K.", "U.N.", "Corp.", "Inc.", "Ltd.", "Co.", "No.", "Jr."}
)

MAX_SUMMARY_CHARS = 450
MIN_WORDS = 6
MAX_WORDS = 60
SCAN_CHARS = 3000  # a lead-based summary never needs more of the article than this
CAPTION_CHARS = 300  # a longer paragraph that credits "/ AP" somewhere is not a caption
CHUNK_CHARS = 1000  # long paragraphs are split this much at a time, only as far as needed
OVERLAP_LIMIT = 0.6  # Jaccard over lowercased words: headline repeats and near-duplicates

# Words that start most sentences: a capitalised word after "U.S." that is not one of these is
# more likely the rest of the same sentence ("U.S. Ambassador") than a new one.
_OPENERS = frozenset(
    {
        "The", "A", "An", "It", "Its", "He", "She", "They", "We", "I", "You", "This", "That",
        "These", "Those", "There", "Here", "In", "On", "At", "As", "By", "For", "From", "To",
        "Of", "But", "And", "Or", "So", "Yet", "However", "Meanwhile", "Moreover", "Also",
        "According", "After", "Before", "Since", "While", "When", "Where", "If", "Although",
        "Though", "Despite", "During", "Under", "Over", "With", "Without", "His", "Her", "Their",
        "Our", "Some", "Many", "Most", "All", "Both", "Each", "Every", "No", "Last", "Next",
        "Earlier", "Later", "Now", "Then", "Today", "Yesterday",
    }
)  # fmt: skip
_INITIAL = re.compile(r"[A-Z]\.")
_LEADING_PUNCT = "([{\"'“‘«"
_QUOTES = "\"'“”‘’«»"
# "...said so. K. Tokayev arrived": the splitter keeps such a pair together; cut it.
_MISSED_BREAK = re.compile(r"(?<=[a-z0-9][a-z0-9][.!?]) (?=(?:[A-Z]|Sh|Zh|Ch|Kh)\. [A-Z])")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\w+")
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’»]?$")

_BULLET = re.compile(r"^(?:[-–—*•·▪►]|\d{1,2}[.)]\s)")
_FURNITURE_START = re.compile(
    r"""^\(?(?:
        photos?\s*(?::|by\b|credit) | image\s*: | credit\s*: | pictured\s*: | video\s*:
      | source\s*: | author\s*: | written\s+by\b | reporting\s+by\b | editing\s+by\b
      | read\s+(?:also|more)\b | also\s+read\b | see\s+also\b | related\b | more\s+on\s+this\b
      | subscribe\b | sign\s+up\b | follow\s+us\b | join\s+(?:us|our)\b | click\s+here\b
      | advertisement\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_CAPTION_ANYWHERE = re.compile(
    r"(?i:\(photos?\b|\bgetty\s+images\b|/\s*(?:ap|afp|reuters)\b|©|all\s+rights\s+reserved)"
    r"|\bREUTERS\b"
)
_NAME = r"[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3}"
_BYLINE = re.compile(
    rf"By\s+{_NAME}(?:\s+(?:and|&)\s+{_NAME})?(?:\s*[,|–—-]\s*[\w '’&-]{{0,40}})?\.?"
)
_DATELINE = re.compile(
    r"""^(?:
        [A-Z][A-Z'’.-]{2,}(?:\s[A-Z][A-Z'’.-]+)*      # ASTANA / NUR-SULTAN / ALMATY. KAZINFORM
        (?:,\s[^–—()/]{1,40}?)?                         # , Nov. 24
        (?:\s*[(/][^()/]{1,30}[)/])?                    # (Kazinform) or /Asia-Plus/
      | [A-Z][\w'’.-]+(?:\s[A-Z][\w'’.-]+)?             # Astana, only with an agency after it
        (?:,\s[^–—()/]{1,40}?)?
        \s*[(/][^()/]{1,30}[)/]
    )\s*[–—-]{1,2}\s+(?=["“‘'«]?[A-Z0-9])""",
    re.VERBOSE,
)


def split_sentences(text: str) -> list[str]:
    """Sentences of plain text, paragraph by paragraph, not cut at the region's abbreviations."""
    return [block[start:end] for block in _blocks(text) for start, end in _sentence_spans(block)]


def summarize(title: str, text: str, max_sentences: int = 3) -> str:
    """A short lead-based summary in the article's own sentences; "" lets callers fall back."""
    title_words = _words(title)
    title_phrase = _phrase(title) if len(title_words) >= 4 else ""
    chosen: list[str] = []
    chosen_words: list[set[str]] = []
    length = 0
    for sentence in _lead_sentences(title, text):
        if len(chosen) >= max_sentences:
            break
        words = _words(sentence)
        if not _is_usable(sentence) or _repeats_title(sentence, words, title_words, title_phrase):
            continue
        if any(_jaccard(words, seen) >= OVERLAP_LIMIT for seen in chosen_words):
            continue
        added = len(sentence) + (1 if chosen else 0)
        if length + added > MAX_SUMMARY_CHARS:
            if chosen:
                break
            continue
        chosen.append(sentence)
        chosen_words.append(words)
        length += added
    return " ".join(chosen)


def _lead_sentences(title: str, text: str) -> Iterator[str]:
    """Candidate sentences from the first SCAN_CHARS of text, skipping furniture blocks."""
    budget = SCAN_CHARS
    title_prefix = " ".join(title.split()).lower()
    for index, block in enumerate(_blocks(text)):
        if budget <= 0:
            return
        remaining, budget = budget, budget - len(block)
        if _is_furniture(block):
            continue
        if index == 0 and title_prefix and _glued_headline(block, title_prefix):
            block = block[len(title_prefix) :].lstrip(" .:|–—-")
        yield from _block_sentences(_DATELINE.sub("", block, count=1), remaining)


def _blocks(text: str) -> Iterator[str]:
    """Paragraphs, whitespace collapsed; bullet and furniture lines are blocks of their own."""
    for paragraph in _PARAGRAPH_BREAK.split(text):
        lines: list[str] = []
        for raw in paragraph.split("\n"):
            line = " ".join(raw.split())
            if not line:
                continue
            if _BULLET.match(line) or _FURNITURE_START.match(line) or _BYLINE.fullmatch(line):
                if lines:
                    yield " ".join(lines)
                    lines = []
                yield line
            else:
                lines.append(line)
        if lines:
            yield " ".join(lines)


def _block_sentences(block: str, limit: int) -> Iterator[str]:
    """Sentences of a block's first `limit` characters, split a chunk at a time, on demand."""
    start = 0
    while start < min(len(block), limit):
        end = min(len(block), limit, start + CHUNK_CHARS)
        spans = _sentence_spans(block[start:end])
        if end == len(block):
            yield from (block[start + s : start + e] for s, e in spans)
            return
        spans = spans[:-1]  # the chunk's last piece may be a cut sentence: split it again later
        if not spans:
            return
        yield from (block[start + s : start + e] for s, e in spans)
        start += spans[-1][1]


def _sentence_spans(block: str) -> list[tuple[int, int]]:
    """Sentence spans of one whitespace-normalised block: nupunkt, then the region's fixes."""
    spans: list[tuple[int, int]] = []
    for start, end in nupunkt.sent_spans(block):
        for piece_start, piece_end in _cut_missed_breaks(block, start, end):
            piece = block[piece_start:piece_end]
            stripped = piece.strip()
            if not stripped:
                continue
            piece_start += len(piece) - len(piece.lstrip())
            piece_end = piece_start + len(stripped)
            if spans and _continues(block[spans[-1][0] : spans[-1][1]], stripped):
                spans[-1] = (spans[-1][0], piece_end)
            else:
                spans.append((piece_start, piece_end))
    return spans


def _cut_missed_breaks(block: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Split a span where a sentence ends right before an initial the splitter took for a title."""
    for match in _MISSED_BREAK.finditer(block, start, end):
        yield start, match.start()
        start = match.end()
    yield start, end


def _continues(previous: str, following: str) -> bool:
    """Whether a split fell after an abbreviation or an initial rather than a sentence's end."""
    last = previous.rsplit(None, 1)[-1].lstrip(_LEADING_PUNCT)
    if last in ABBREVIATIONS:
        return True
    if last in AMBIGUOUS_ABBREVIATIONS or _INITIAL.fullmatch(last):
        first = following.split(None, 1)[0].strip(_QUOTES)
        return not first[:1].isupper() or first.rstrip(",;:") not in _OPENERS
    return False


def _is_furniture(block: str) -> bool:
    """Bullet items, photo captions and credits, "Read also" links and bylines."""
    return bool(
        _BULLET.match(block)
        or _FURNITURE_START.match(block)
        or (len(block) <= CAPTION_CHARS and _CAPTION_ANYWHERE.search(block))
        or _BYLINE.fullmatch(block)
    )


def _is_usable(sentence: str) -> bool:
    """A whole sentence of readable length that is not page furniture."""
    first = sentence.lstrip(_QUOTES)[:1]
    if not (first.isupper() or first.isdigit()) or not _ENDS_SENTENCE.search(sentence):
        return False
    if sentence.rstrip(_QUOTES).endswith(".."):
        return False  # a teaser cut with an ellipsis
    if not MIN_WORDS <= len(sentence.split()) <= MAX_WORDS:
        return False
    return not (_is_furniture(sentence) or _CAPTION_ANYWHERE.search(sentence))


def _glued_headline(block: str, title_prefix: str) -> bool:
    """The paragraph opens with the headline as a line of its own, not as its first words."""
    if not block.lower().startswith(title_prefix):
        return False
    rest = block[len(title_prefix) :]
    stripped = rest.lstrip(" ")
    return bool(stripped) and (
        stripped[0] in ".:|–—-" or (rest[:1] == " " and stripped[0].isupper())
    )


def _repeats_title(sentence: str, words: set[str], title_words: set[str], phrase: str) -> bool:
    """Whether the sentence is the headline again, word for word or nearly.

    A lead that merely opens with the headline's words and goes on to say more is kept: it is
    usually the best sentence of the article.
    """
    if not title_words:
        return False
    if _jaccard(words, title_words) >= OVERLAP_LIMIT:
        return True
    short = len(words) <= len(title_words) + 3
    return short and bool(phrase) and phrase in _phrase(sentence)


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _phrase(text: str) -> str:
    return " " + " ".join(_WORD.findall(text.lower())) + " "


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
