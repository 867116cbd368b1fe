import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest

from rtk_sessions.exports import Segment
from rtk_sessions.summarize import (
    SUMMARY_TYPE_HEADINGS,
    ExtractiveSummarizer,
    Summarizer,
    count_words,
    lead_baseline,
)
from rtk_sessions.summarize.text import (
    clean_transcript_text,
    sentences,
    split_sentences,
    tidy_for_display,
    turns,
)

from .ami import Meeting, load_meeting

TextFormat = Literal["plain_text", "markdown"]
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
MEETINGS = ["ES2002a", "IS1008a"]


@pytest.fixture(scope="module", params=MEETINGS)
def meeting(request: pytest.FixtureRequest) -> Meeting:
    return load_meeting(request.param)


def say(t: float, who: str, text: str, dur: float = 4.0) -> Segment:
    return Segment(
        T0 + timedelta(seconds=t),
        T0 + timedelta(seconds=t + dur),
        text,
        f"peer-{who}",
        f"user-{who}",
        None,
        who.capitalize(),
    )


def small_meeting() -> list[Segment]:
    """Alice talks budget, Bob talks hiring, Cy talks the launch date; plus chit-chat."""
    lines = [
        ("alice", "Hi everyone, thanks for joining today."),
        ("bob", "Mm-hmm."),
        ("alice", "The marketing budget for the spring campaign is forty thousand euros."),
        ("bob", "We still need to hire two backend engineers before the launch."),
        ("cy", "The launch date for the mobile app moves to the ninth of June."),
        ("alice", "I think the budget should cover paid search and the conference booth."),
        ("bob", "Yeah."),
        ("bob", "Hiring the backend engineers is blocked on the budget approval."),
        ("cy", "If hiring slips, the June launch date of the mobile app slips too."),
        ("alice", "Okay."),
        ("alice", "I will get the budget approved by Friday so hiring can start."),
        ("cy", "Great, see you all next week."),
    ]
    return [say(i * 5.0, who, text) for i, (who, text) in enumerate(lines)]


# -- contract -----------------------------------------------------------------------------------


def test_is_a_summarizer() -> None:
    assert isinstance(ExtractiveSummarizer(), Summarizer)


def test_bad_arguments() -> None:
    s = ExtractiveSummarizer()
    with pytest.raises(ValueError):
        s.summarize(small_meeting(), word_limit=0, text_format="plain_text", summary_type="general")
    with pytest.raises(ValueError):
        s.summarize(small_meeting(), word_limit=50, text_format="html", summary_type="general")  # type: ignore[arg-type]


@pytest.mark.parametrize("text_format", ["plain_text", "markdown"])
def test_empty_transcript(text_format: TextFormat) -> None:
    s = ExtractiveSummarizer()
    for transcript in ([], [say(0, "alice", "   "), say(5, "bob", "{vocalsound}")]):
        out = s.summarize(
            transcript, word_limit=100, text_format=text_format, summary_type="general"
        )
        assert "No speech was transcribed" in out
        assert count_words(out) <= 100
    tiny = s.summarize([], word_limit=3, text_format=text_format, summary_type="general")
    assert count_words(tiny) <= 3


def test_deterministic_and_independent_of_input_order(meeting: Meeting) -> None:
    s = ExtractiveSummarizer()
    kw: dict[str, Any] = {
        "word_limit": 120,
        "text_format": "markdown",
        "summary_type": "team_meeting",
    }
    first = s.summarize(meeting.segments, **kw)
    assert s.summarize(list(meeting.segments), **kw) == first
    shuffled = list(meeting.segments)
    random.Random(7).shuffle(shuffled)
    assert s.summarize(shuffled, **kw) == first


@pytest.mark.parametrize("text_format", ["plain_text", "markdown"])
@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8, 13, 25, 50, 100, 150, 300, 1000])
def test_word_limit_is_strict(meeting: Meeting, text_format: TextFormat, limit: int) -> None:
    for fn in (ExtractiveSummarizer().summarize, lead_baseline):
        out = fn(
            meeting.segments, word_limit=limit, text_format=text_format, summary_type="general"
        )
        assert isinstance(out, str)
        assert 0 < count_words(out) <= limit, out


def test_uses_most_of_the_budget(meeting: Meeting) -> None:
    out = ExtractiveSummarizer().summarize(
        meeting.segments, word_limit=150, text_format="plain_text", summary_type="general"
    )
    assert 120 <= count_words(out) <= 150


def test_whole_short_meeting_fits_in_a_large_limit() -> None:
    out = ExtractiveSummarizer().summarize(
        small_meeting(), word_limit=1000, text_format="plain_text", summary_type="general"
    )
    # every substantive sentence, in meeting order; backchannels are never picked
    assert "Mm-hmm" not in out and "Yeah." not in out
    assert out.index("forty thousand") < out.index("ninth of June") < out.index("by Friday")


# -- format -------------------------------------------------------------------------------------


def test_markdown_and_plain_text() -> None:
    segs = small_meeting()
    s = ExtractiveSummarizer()
    md = s.summarize(segs, word_limit=60, text_format="markdown", summary_type="team_meeting")
    pt = s.summarize(segs, word_limit=60, text_format="plain_text", summary_type="team_meeting")
    assert md.startswith("## Team meeting summary\n\n")
    body = md.split("\n\n", 1)[1].strip().splitlines()
    assert body and all(re.match(r"- \*\*(Alice|Bob|Cy):\*\* \S", line) for line in body)
    assert pt.startswith("Team meeting summary\n\n")
    assert "**" not in pt and "#" not in pt and "- " not in pt
    assert all(
        re.match(r"(Alice|Bob|Cy): \S", line) for line in pt.split("\n\n", 1)[1].split("\n") if line
    )


@pytest.mark.parametrize("summary_type", [*SUMMARY_TYPE_HEADINGS, "something_new"])
def test_heading_follows_summary_type(summary_type: Any) -> None:
    out = ExtractiveSummarizer().summarize(
        small_meeting(), word_limit=80, text_format="plain_text", summary_type=summary_type
    )
    expected = SUMMARY_TYPE_HEADINGS.get(summary_type, "Meeting summary")
    assert out.splitlines()[0] == expected


def test_markdown_escapes_speech() -> None:
    text = "Use the *star* rating and the [draft] #channel for remote control feedback."
    segs = [say(0, "alice", text)]
    out = ExtractiveSummarizer().summarize(
        segs, word_limit=50, text_format="markdown", summary_type="general"
    )
    assert r"\*star\*" in out and r"\[draft\]" in out and r"\#channel" in out


# -- speakers -----------------------------------------------------------------------------------


def test_speaker_attribution_small() -> None:
    out = ExtractiveSummarizer().summarize(
        small_meeting(), word_limit=1000, text_format="plain_text", summary_type="general"
    )
    for line in out.splitlines()[2:]:
        who, text = line.split(": ", 1)
        if ("budget" in text and "approved" in text) or "forty thousand" in text:
            assert who == "Alice"
        if "backend engineers before" in text:
            assert who == "Bob"
        if "ninth of June" in text:
            assert who == "Cy"


def test_speaker_attribution_real(meeting: Meeting) -> None:
    """Every picked sentence was said by the speaker it is attributed to."""
    by_speaker: dict[str, str] = {}
    for s in meeting.segments:
        name = s.name or ""
        by_speaker[name] = by_speaker.get(name, "") + " " + clean_transcript_text(s.text)
    picked = ExtractiveSummarizer().select(meeting.segments, word_limit=300)
    assert len({p.speaker for p in picked}) >= 2
    for p in picked:
        first_words = " ".join(p.raw.split()[:4])
        assert first_words in by_speaker[p.speaker], (p.speaker, p.raw)


def test_interrupted_sentence_is_rejoined() -> None:
    segs = [
        say(0, "alice", "So the plan for the remote control is that we", 3),
        say(3, "bob", "Mm-hmm.", 1),
        say(4, "alice", "ship the prototype to the client next week.", 3),
    ]
    ts = turns(segs)
    assert [t.speaker for t in ts] == ["Alice", "Bob"]
    assert ts[0].text.endswith("we ship the prototype to the client next week.")


# -- text handling ------------------------------------------------------------------------------


def test_text_helpers() -> None:
    raw = "like with D_V_D_ players , if {vocalsound} there are zones ."
    assert clean_transcript_text(raw) == ("like with DVD players, if there are zones.")
    assert tidy_for_display("Um yeah so des uh design a a new remote control") == (
        "Design a new remote control."
    )
    assert split_sentences("Mr. Smith paid 12.50 Euro. Really? Yes!") == [
        "Mr. Smith paid 12.50 Euro.",
        "Really?",
        "Yes!",
    ]
    assert count_words("## Heading\n\n- **Alice:** one two.") == 4


def test_long_run_on_sentences_are_cut_at_commas() -> None:
    long = ", ".join(f"item number {i} goes on the list" for i in range(20)) + "."
    sents = sentences([say(0, "alice", long)])
    assert len(sents) > 1 and all(s.n_words <= 36 for s in sents)


# -- content on real meetings -------------------------------------------------------------------


def test_real_meeting_summary_has_key_content(meeting: Meeting) -> None:
    out = ExtractiveSummarizer().summarize(
        meeting.segments, word_limit=150, text_format="plain_text", summary_type="team_meeting"
    )
    low = out.lower()
    assert "remote control" in low
    # all four roles' speakers are known; at least two of them appear
    names = {s.name for s in meeting.segments if s.name}
    assert sum(1 for n in names if n in out) >= 2


def test_redundancy_removed() -> None:
    s = ExtractiveSummarizer()
    segs = [
        say(0, "alice", "The remote control must have a touch screen and a rubber case."),
        say(5, "bob", "The remote control must have a touch screen and a rubber case."),
        say(10, "cy", "The budget for the remote control is twelve euros fifty per unit."),
        say(15, "alice", "Marketing research shows young customers want fancy looking devices."),
    ]
    picked = s.select(segs, word_limit=1000)
    texts = [p.text for p in picked]
    assert texts.count("The remote control must have a touch screen and a rubber case.") == 1
