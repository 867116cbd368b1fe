"""Text handling for the extractive summarizer: cleaning, turns, sentences, tokens.

Stdlib only. Tuned for spoken English as it comes out of transcription (fillers, false starts,
repeated words, corpus annotations such as ``{vocalsound}``), but harmless on clean text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rtk_sessions.exports.transcript import Segment, ordered_segments, speaker_label

# --- words -------------------------------------------------------------------------------------

STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each else etc even ever every few for from further get gets
    getting got had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers
    herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
    just let's me more most much must mustn't my myself no nor not now of off on once one only or
    other ought our ours ourselves out over own per same shall shan't she she'd she'll she's
    should shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through to too under until up
    upon us very was wasn't we we'd we'll we're we've were weren't what what's when when's where
    where's whether which while who who's whom why why's will with won't would wouldn't you you'd
    you'll you're you've your yours yourself yourselves yes yeah yep yup no nope okay ok oh ah aha
    uh um umm erm er hmm mm mhm mm-hmm uh-huh huh hm ooh wow well like just really actually
    basically right alright sure maybe anyway kind sort kinda sorta gonna wanna gotta dunno thing
    things stuff something anything everything nothing guess think know mean say said says go
    going goes went come came see look want need get make made way bit lot lots quite pretty
    probably thanks thank please 'cause cause yes-no etcetera 'kay kay
    """.split()  # noqa: SIM905
)

FILLERS: frozenset[str] = frozenset(
    """
    um umm uh uhh erm er ah ahh hmm hm mm mhm mm-hmm uh-huh
    """.split()  # noqa: SIM905
)

_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)*", re.IGNORECASE)


def stem(word: str) -> str:
    """A small, deterministic suffix stripper (Porter step 1 flavour) for matching word forms."""
    w = word
    if len(w) <= 3:
        return w
    for suf, rep in (("sses", "ss"), ("ies", "y"), ("ss", "ss"), ("s", "")):
        if w.endswith(suf):
            w = w[: len(w) - len(suf)] + rep
            break
    for suf in ("ingly", "edly", "ing", "ed"):
        if w.endswith(suf) and len(w) - len(suf) >= 3 and re.search(r"[aeiouy]", w[: -len(suf)]):
            w = w[: -len(suf)]
            if len(w) >= 2 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            break
    for suf in (
        "ational",
        "tional",
        "ization",
        "fulness",
        "ousness",
        "iveness",
        "ement",
        "ment",
        "ness",
        "able",
        "ible",
        "ful",
        "ly",
    ):
        if w.endswith(suf) and len(w) - len(suf) >= 4:
            w = w[: -len(suf)]
            break
    return w


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return [m.group(0).lower().replace("\u2019", "'") for m in _WORD.finditer(text)]


def content_terms(text: str) -> list[str]:
    """Stemmed content words (no stop words, no 1-letter tokens, no pure numbers)."""
    out = []
    for w in words(text):
        if w in STOP_WORDS or len(w) < 2 or w.isdigit():
            continue
        out.append(stem(w))
    return out


def count_words(text: str) -> int:
    """Words as a reader counts them: whitespace-separated tokens holding a letter or digit.

    Markdown markers (``#``, ``-``, ``**``) alone are not words. This is the count that the
    summarizers' ``word_limit`` bounds.
    """
    return sum(1 for tok in text.split() if any(ch.isalnum() for ch in tok))


# --- cleaning ----------------------------------------------------------------------------------

_ANNOTATION = re.compile(r"\{[a-z_]+\}|\[(?:noise|laughter|inaudible|crosstalk|music)\]", re.I)
_SPELLED = re.compile(r"\b(?:[A-Za-z]_){2,}")  # AMI spells acronyms as D_V_D_
_SPACE_PUNCT = re.compile(r"\s+([,.;:!?])")
_MULTI_PUNCT = re.compile(r"([,;:])(?:\s*[,;:])+")
_COMMA_END = re.compile(r"[,;:]\s*([.!?])")
_WS = re.compile(r"\s+")


def clean_transcript_text(text: str) -> str:
    """Remove annotations, join spelled acronyms, fix spacing before punctuation."""
    text = _ANNOTATION.sub(" ", text)
    text = _SPELLED.sub(lambda m: m.group(0).replace("_", ""), text)
    text = text.replace("_", " ")
    text = _WS.sub(" ", text).strip()
    text = _SPACE_PUNCT.sub(r"\1", text)
    text = _MULTI_PUNCT.sub(r"\1", text)
    return text


_LEAD_MARKERS = frozenset(
    [
        "okay",
        "ok",
        "right",
        "alright",
        "yeah",
        "yep",
        "yes",
        "well",
        "oh",
        "so",
        "and",
        "anyway",
        "now",
    ]
)
_TIC_MID = re.compile(r",\s*(?:okay|ok|you know|i mean)\s*,", re.I)
_TIC = re.compile(r",\s*(?:okay|ok|you know|i mean)\s*(?=[,.!?]|$)", re.I)


def tidy_for_display(sentence: str) -> str:
    """Readable form of a spoken sentence.

    Drops fillers (um, uh), verbal tics between commas (", okay,"), leading discourse markers
    ("Okay, right, so ..."), stutters ("our our") and cut-off word starts ("des design"); then
    capitalizes and terminates the sentence. Words are never reordered or invented.
    """
    sentence = _TIC_MID.sub(" ", sentence)
    sentence = _TIC.sub("", sentence)
    toks: list[str] = []
    for tok in sentence.split():
        if tok.strip(",.;:!?").lower() in FILLERS:
            # keep punctuation that was attached to the filler
            tail = tok[len(tok.rstrip(",.;:!?")) :]
            if tail and toks and toks[-1][-1] not in ",.;:!?":
                toks[-1] += tail
            continue
        toks.append(tok)
    out: list[str] = []
    for k, tok in enumerate(toks):
        bare = tok.strip(",.;:!?").lower()
        if out and bare and out[-1].strip(",.;:!?").lower() == bare and out[-1][-1].isalnum():
            continue  # "our our" -> "our"
        nxt = toks[k + 1].lower() if k + 1 < len(toks) else ""
        if (
            bare
            and tok[-1].isalnum()
            and bare not in STOP_WORDS
            and len(bare) < len(nxt)
            and nxt.startswith(bare)
        ):
            continue  # "des design" -> "design"
        out.append(tok)
    while out and out[0].strip(",.;:!?").lower() in _LEAD_MARKERS and len(out) > 1:
        out.pop(0)
    s = " ".join(out).strip(" ,;:")
    s = _COMMA_END.sub(r"\1", s)
    if not s:
        return s
    s = s[0].upper() + s[1:]
    if s[-1] not in ".!?":
        s += "."
    return s


# --- turns and sentences -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    index: int  # position in the meeting (0-based)
    speaker: str  # display label of the speaker
    speaker_key: str  # stable identity (peer/user/custom id or label)
    start: datetime
    raw: str  # cleaned transcript text of the sentence
    text: str  # display text (tidied)
    terms: tuple[str, ...]  # stemmed content terms

    @property
    def n_words(self) -> int:
        return count_words(self.text)


@dataclass
class _Turn:
    speaker: str
    key: str
    start: datetime
    end: datetime
    text: str


def _speaker_key(seg: Segment) -> str:
    return seg.user_id or seg.custom_participant_id or seg.peer_id or speaker_label(seg)


_TERMINAL = (".", "!", "?")


def turns(
    segments: Sequence[Segment], *, join_gap: timedelta = timedelta(seconds=15)
) -> list[_Turn]:
    """Speaker turns in meeting order.

    Consecutive segments of one speaker are joined. A segment that starts in lower case continues
    the same speaker's last unfinished turn (no terminal punctuation) when that turn ended less than
    ``join_gap`` before, even if someone else said something in between (a backchannel such as
    "Mm-hmm" inside a sentence is common in meetings).
    """
    out: list[_Turn] = []
    open_turn: dict[str, _Turn] = {}
    for seg in ordered_segments(segments):
        text = clean_transcript_text(seg.text)
        if not text:
            continue
        key = _speaker_key(seg)
        label = speaker_label(seg)
        prev = out[-1] if out else None
        cont = open_turn.get(key)
        if prev is not None and prev.key == key:
            prev.text = f"{prev.text} {text}"
            prev.end = max(prev.end, seg.end)
            cont = prev
        elif (
            cont is not None
            and text[0].islower()
            and not cont.text.endswith(_TERMINAL)
            and seg.start - cont.end <= join_gap
        ):
            cont.text = f"{cont.text} {text}"
            cont.end = max(cont.end, seg.end)
        else:
            cont = _Turn(label, key, seg.start, seg.end, text)
            out.append(cont)
        open_turn[key] = cont
    return out


_ABBREV = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "approx",
    "no",
    "inc",
    "ltd",
    "co",
    "fig",
}
_SPLIT = re.compile(r"([.!?]+)(?=\s+|$)")


def split_sentences(text: str) -> list[str]:
    """Split on ``.``, ``!``, ``?`` followed by space or end, except after common abbreviations and
    single initials; decimal numbers are never split (no space follows their dot)."""
    parts: list[str] = []
    buf = ""
    pos = 0
    for m in _SPLIT.finditer(text):
        chunk = text[pos : m.end()]
        pos = m.end()
        buf += chunk
        last = buf.rstrip(".!?").split()[-1:] if buf.strip(".!? ") else []
        token = last[0].lower().rstrip(".") if last else ""
        if m.group(1) == "." and (token in _ABBREV or (len(token) == 1 and token.isalpha())):
            continue
        if buf.strip():
            parts.append(buf.strip())
        buf = ""
    buf += text[pos:]
    if buf.strip():
        parts.append(buf.strip())
    return parts


def split_long(sentence: str, max_words: int) -> list[str]:
    """Spoken run-on sentences cut at commas into pieces of at most about ``max_words`` words."""
    if len(sentence.split()) <= max_words:
        return [sentence]
    clauses = re.split(r"(?<=[,;:])\s+", sentence)
    pieces: list[str] = []
    buf: list[str] = []
    for clause in clauses:
        n = len(clause.split())
        if buf and len(" ".join(buf).split()) + n > max_words:
            pieces.append(" ".join(buf))
            buf = []
        buf.append(clause)
    if buf:
        pieces.append(" ".join(buf))
    return pieces


def sentences(segments: Sequence[Segment], *, max_words: int = 35) -> list[Sentence]:
    """All sentences of a transcript, in meeting order, each attributed to its speaker.

    Sentences longer than ``max_words`` words are cut at commas (see ``split_long``)."""
    out: list[Sentence] = []
    for turn in turns(segments):
        for raw in (p for sent in split_sentences(turn.text) for p in split_long(sent, max_words)):
            text = tidy_for_display(raw)
            if not text or not any(ch.isalnum() for ch in text):
                continue
            out.append(
                Sentence(
                    index=len(out),
                    speaker=turn.speaker,
                    speaker_key=turn.key,
                    start=turn.start,
                    raw=raw,
                    text=text,
                    terms=tuple(content_terms(raw)),
                )
            )
    return out
