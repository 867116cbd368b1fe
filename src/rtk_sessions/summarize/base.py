"""Summarizer protocol, errors, and the rendering shared by all summarizers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from rtk_sessions.exports.transcript import Segment
from rtk_sessions.summarize.text import Sentence, count_words

TextFormat = Literal["plain_text", "markdown"]

#: RealtimeKit's ``ai_config.summarization.summary_type`` values and the heading we give each.
SUMMARY_TYPE_HEADINGS: dict[str, str] = {
    "general": "Meeting summary",
    "team_meeting": "Team meeting summary",
    "sales_call": "Sales call summary",
    "client_check_in": "Client check-in summary",
    "interview": "Interview summary",
    "daily_standup": "Daily stand-up summary",
    "one_on_one_meeting": "One-on-one meeting summary",
    "lecture": "Lecture summary",
    "code_review": "Code review summary",
}
SUMMARY_TYPES: tuple[str, ...] = tuple(SUMMARY_TYPE_HEADINGS)
TEXT_FORMATS: tuple[str, ...] = ("plain_text", "markdown")

EMPTY_TRANSCRIPT_TEXT = "No speech was transcribed in this session."


class SummarizerError(Exception):
    """A summary could not be produced (backend unreachable, HTTP error, unusable answer)."""


@runtime_checkable
class Summarizer(Protocol):
    def summarize(
        self,
        transcript: Sequence[Segment],
        *,
        word_limit: int,
        text_format: TextFormat,
        summary_type: str,
    ) -> str: ...


def heading_for(summary_type: str) -> str:
    """Heading for a summary type; unknown types get the ``general`` heading."""
    return SUMMARY_TYPE_HEADINGS.get(summary_type, SUMMARY_TYPE_HEADINGS["general"])


def check_args(word_limit: int, text_format: str) -> None:
    if not isinstance(word_limit, int) or isinstance(word_limit, bool) or word_limit < 1:
        raise ValueError(f"word_limit must be a positive integer, got {word_limit!r}")
    if text_format not in TEXT_FORMATS:
        raise ValueError(f"text_format must be one of {TEXT_FORMATS}, got {text_format!r}")


def truncate_words(text: str, limit: int) -> str:
    """At most ``limit`` words (``count_words``) of ``text``; prefers to stop at a sentence end
    when that keeps at least half of the allowed words, else ends with an ellipsis."""
    if count_words(text) <= limit:
        return text
    toks = text.split()
    kept: list[str] = []
    n = 0
    for tok in toks:
        is_word = any(ch.isalnum() for ch in tok)
        if is_word and n == limit:
            break
        kept.append(tok)
        n += is_word
    for i in range(len(kept) - 1, -1, -1):
        if kept[i].endswith((".", "!", "?")) and count_words(" ".join(kept[: i + 1])) >= limit / 2:
            return " ".join(kept[: i + 1])
    return " ".join(kept).rstrip(",;:") + "…"


def render(
    picked: Sequence[Sentence],
    *,
    text_format: TextFormat,
    summary_type: str,
    heading: bool = True,
) -> str:
    """Picked sentences in meeting order; consecutive sentences of one speaker share a line.

    plain_text::

        Team meeting summary

        Laura: First point. Second point.
        David: Third point.

    markdown::

        ## Team meeting summary

        - **Laura:** First point. Second point.
        - **David:** Third point.
    """
    groups: list[tuple[str, list[str]]] = []
    for s in sorted(picked, key=lambda s: s.index):
        if groups and groups[-1][0] == s.speaker:
            groups[-1][1].append(s.text)
        else:
            groups.append((s.speaker, [s.text]))
    title = heading_for(summary_type)
    if text_format == "markdown":
        lines = [f"- **{_md_escape(who)}:** {_md_escape(' '.join(texts))}" for who, texts in groups]
        head = f"## {title}"
    else:
        lines = [f"{who}: {' '.join(texts)}" for who, texts in groups]
        head = title
    body = "\n".join(lines)
    if heading:
        return f"{head}\n\n{body}\n" if body else f"{head}\n"
    return f"{body}\n" if body else ""


def _md_escape(text: str) -> str:
    for ch in ("\\", "*", "_", "`", "[", "]", "<", ">", "#"):
        text = text.replace(ch, "\\" + ch)
    return text


def render_message(
    message: str, *, word_limit: int, text_format: TextFormat, summary_type: str
) -> str:
    """A fixed message (e.g. for an empty transcript) under the same heading and word limit."""
    title = heading_for(summary_type)
    head = f"## {title}" if text_format == "markdown" else title
    full = f"{head}\n\n{message}\n"
    if count_words(full) <= word_limit:
        return full
    return truncate_words(message, word_limit) + "\n"
