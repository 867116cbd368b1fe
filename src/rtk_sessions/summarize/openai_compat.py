"""Summaries from any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama,
llama.cpp server, LiteLLM, Workers AI's OpenAI endpoint, ...).

``POST {base_url}/chat/completions`` with ``{"model", "messages", "temperature": 0}`` and
``Authorization: Bearer <api_key>`` when a key is set; the answer's
``choices[0].message.content`` is the summary. Any failure (connection, timeout, HTTP status >= 400,
non-JSON body, unexpected shape, empty content) raises ``SummarizerError`` with a message that says
which. The text is then held to ``word_limit`` words (models overshoot) with ``truncate_words``.

``httpx`` is imported when the class is used, so the offline default has no dependency on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rtk_sessions.exports.timefmt import offset_ms
from rtk_sessions.exports.transcript import Segment, ordered_segments, speaker_label
from rtk_sessions.summarize.base import (
    EMPTY_TRANSCRIPT_TEXT,
    SummarizerError,
    TextFormat,
    check_args,
    heading_for,
    render_message,
    truncate_words,
)
from rtk_sessions.summarize.text import clean_transcript_text

_TYPE_HINTS = {
    "general": "a meeting",
    "team_meeting": "a team meeting; bring out decisions, owners and next steps",
    "sales_call": "a sales call; bring out the customer's needs, objections, price, next steps",
    "client_check_in": "a client check-in; bring out status, concerns and follow-ups",
    "interview": "an interview; bring out the questions asked and the candidate's answers",
    "daily_standup": "a daily stand-up; per person: done, planned, blockers",
    "one_on_one_meeting": "a one-on-one meeting; bring out feedback, goals and agreed actions",
    "lecture": "a lecture; bring out the main concepts in the order taught",
    "code_review": "a code review; bring out the changes discussed, issues found and decisions",
}


def transcript_prompt_lines(transcript: Sequence[Segment], max_chars: int) -> str:
    segs = ordered_segments(transcript)
    if not segs:
        return ""
    origin = segs[0].start
    lines = []
    for s in segs:
        text = clean_transcript_text(s.text)
        if not text:
            continue
        sec = offset_ms(s.start, origin) // 1000
        lines.append(f"[{sec // 60:02d}:{sec % 60:02d}] {speaker_label(s)}: {text}")
    out = "\n".join(lines)
    if len(out) > max_chars:
        out = out[:max_chars].rsplit("\n", 1)[0] + "\n[transcript truncated]"
    return out


@dataclass
class OpenAICompatibleSummarizer:
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0
    max_input_chars: int = 120_000
    temperature: float = 0.0

    @property
    def endpoint(self) -> str:
        url = self.base_url.rstrip("/")
        return url if url.endswith("/chat/completions") else f"{url}/chat/completions"

    def messages(
        self,
        transcript: Sequence[Segment],
        *,
        word_limit: int,
        text_format: TextFormat,
        summary_type: str,
    ) -> list[dict[str, str]]:
        kind = _TYPE_HINTS.get(summary_type, _TYPE_HINTS["general"])
        fmt = (
            "Markdown (a '## ' heading, then bullet points)"
            if text_format == "markdown"
            else "plain text without any Markdown"
        )
        system = (
            "You summarize transcripts of online meetings. Be factual: use only what the "
            "transcript says, name who said or decided what, and keep the order of the meeting."
        )
        user = (
            f"Summarize this transcript of {kind}.\n"
            f"Write at most {word_limit} words, in {fmt}, starting with the heading "
            f'"{heading_for(summary_type)}".\n\nTranscript:\n'
            f"{transcript_prompt_lines(transcript, self.max_input_chars)}"
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def summarize(
        self,
        transcript: Sequence[Segment],
        *,
        word_limit: int,
        text_format: TextFormat = "plain_text",
        summary_type: str = "general",
    ) -> str:
        check_args(word_limit, text_format)
        if not any(s.text and s.text.strip() for s in transcript):
            return render_message(
                EMPTY_TRANSCRIPT_TEXT,
                word_limit=word_limit,
                text_format=text_format,
                summary_type=summary_type,
            )
        import httpx

        body = {
            "model": self.model,
            "messages": self.messages(
                transcript,
                word_limit=word_limit,
                text_format=text_format,
                summary_type=summary_type,
            ),
            "temperature": self.temperature,
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            with httpx.Client(timeout=httpx.Timeout(self.timeout)) as client:
                resp = client.post(self.endpoint, json=body, headers=headers)
        except httpx.TimeoutException as e:
            raise SummarizerError(
                f"summarizer endpoint {self.endpoint} timed out after {self.timeout:g}s"
            ) from e
        except httpx.HTTPError as e:
            raise SummarizerError(f"summarizer endpoint {self.endpoint} failed: {e!r}") from e
        if resp.status_code >= 400:
            snippet = resp.text[:300].replace("\n", " ")
            raise SummarizerError(
                f"summarizer endpoint {self.endpoint} answered HTTP {resp.status_code}: {snippet}"
            )
        try:
            data = resp.json()
        except ValueError as e:
            raise SummarizerError(
                f"summarizer endpoint {self.endpoint} answered non-JSON: {resp.text[:200]!r}"
            ) from e
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as e:
            raise SummarizerError(
                f"summarizer endpoint {self.endpoint} answered JSON without "
                f"choices[0].message.content: {str(data)[:200]}"
            ) from e
        if not isinstance(content, str) or not content.strip():
            raise SummarizerError(f"summarizer endpoint {self.endpoint} returned an empty summary")
        return truncate_words(content.strip(), word_limit) + "\n"
