"""Summaries of session transcripts.

* ``ExtractiveSummarizer``: the embedded default; offline, stdlib only, deterministic.
* ``OpenAICompatibleSummarizer``: any OpenAI-compatible ``/chat/completions`` endpoint (httpx).
* ``lead_baseline``: first sentences up to the word limit, for comparison.

All take RealtimeKit's summarization settings: ``word_limit``, ``text_format`` (``plain_text`` |
``markdown``) and ``summary_type`` (used for the heading, and for the LLM prompt).
"""

from rtk_sessions.summarize.base import (
    SUMMARY_TYPE_HEADINGS,
    SUMMARY_TYPES,
    TEXT_FORMATS,
    Summarizer,
    SummarizerError,
    TextFormat,
    heading_for,
    truncate_words,
)
from rtk_sessions.summarize.extractive import ExtractiveSummarizer, lead_baseline
from rtk_sessions.summarize.openai_compat import OpenAICompatibleSummarizer
from rtk_sessions.summarize.text import count_words

__all__ = [
    "SUMMARY_TYPES",
    "SUMMARY_TYPE_HEADINGS",
    "TEXT_FORMATS",
    "ExtractiveSummarizer",
    "OpenAICompatibleSummarizer",
    "Summarizer",
    "SummarizerError",
    "TextFormat",
    "count_words",
    "heading_for",
    "lead_baseline",
    "truncate_words",
]
