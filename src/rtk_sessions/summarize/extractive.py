"""The embedded default summarizer: extractive, graph-ranked, redundancy-aware, speaker-aware.

Pipeline (stdlib only, deterministic):

1. **Turns and sentences.** Final segments are ordered, annotations and fillers are removed, a
   speaker's sentence interrupted by someone's "mm-hmm" is re-joined, turns are split into
   sentences, and every sentence keeps its speaker.
2. **Candidates.** Sentences with fewer than ``min_words`` words or ``min_terms`` content terms
   (backchannels, "Okay.", "Is that right?") are not selectable; they still count for document
   frequencies.
3. **TF-IDF vectors** over stemmed content terms (sublinear tf ``1 + ln tf``; smoothed idf
   ``ln((1 + N) / (1 + df)) + 1``; L2-normalized), one per sentence.
4. **Similarity graph** (LexRank, continuous): edge weight = cosine similarity when above
   ``edge_threshold``. An edge between sentences of *different* speakers is multiplied by
   ``cross_speaker_boost``: a point that other participants pick up is a point of the meeting, not
   one person's aside.
5. **PageRank** by power iteration (damping ``damping``, tolerance 1e-9, at most 200 steps), with a
   teleport vector proportional to the square root of a sentence's content terms, so longer,
   informative sentences are favoured a little over short ones.
6. **MMR selection:** repeatedly take the candidate maximizing
   ``λ · rank - (1 - λ) · max cosine to the picked ones`` (rank scaled to [0, 1]) among those that
   still fit the word limit (counted on the *rendered* output, heading and speaker labels included).
   Candidates more similar than ``max_redundancy`` to a picked sentence are dropped. A small
   ``speaker_balance`` penalty per sentence already picked from the same speaker keeps one voluble
   participant from filling the summary.
7. **Output** in meeting order, consecutive picks of one speaker on one line, with the heading of
   the summary type, as plain text or Markdown.

Ties are broken by meeting position, so the same transcript always gives the same summary.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rtk_sessions.exports.transcript import Segment
from rtk_sessions.summarize.base import (
    EMPTY_TRANSCRIPT_TEXT,
    TextFormat,
    check_args,
    render,
    render_message,
    truncate_words,
)
from rtk_sessions.summarize.text import Sentence, count_words, sentences

Vector = dict[str, float]
#: ``fits(sentences)``: whether the rendered summary of ``sentences`` is within the word limit.
Fits = Callable[[list[Sentence]], bool]


def tfidf_vectors(docs: Sequence[Sequence[str]]) -> list[Vector]:
    n = len(docs)
    df: Counter[str] = Counter()
    for d in docs:
        df.update(set(d))
    idf = {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}
    out = []
    for d in docs:
        tf = Counter(d)
        v = {t: (1.0 + math.log(c)) * idf[t] for t, c in tf.items()}
        norm = math.sqrt(sum(x * x for x in v.values()))
        out.append({t: x / norm for t, x in v.items()} if norm else {})
    return out


def cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(x * b.get(t, 0.0) for t, x in a.items())


def similarity_pairs(vecs: Sequence[Vector]) -> dict[tuple[int, int], float]:
    """Cosine similarity of every pair ``i < j`` that shares a term (inverted index, sparse)."""
    postings: dict[str, list[tuple[int, float]]] = {}
    for i, v in enumerate(vecs):
        for t, x in v.items():
            postings.setdefault(t, []).append((i, x))
    dots: dict[tuple[int, int], float] = {}
    for plist in postings.values():
        for a in range(len(plist)):
            i, xi = plist[a]
            for b in range(a + 1, len(plist)):
                j, xj = plist[b]
                dots[(i, j)] = dots.get((i, j), 0.0) + xi * xj
    return dots


def pagerank(
    n: int,
    edges: dict[tuple[int, int], float],
    *,
    damping: float = 0.85,
    teleport: Sequence[float] | None = None,
    tol: float = 1e-9,
    max_iter: int = 200,
) -> list[float]:
    """PageRank of a weighted undirected graph of ``n`` nodes by power iteration.

    ``edges`` maps ``(i, j)`` (``i < j``) to a positive weight. Nodes without edges spread their
    rank by the teleport vector (uniform by default).
    """
    if n == 0:
        return []
    if teleport is None:
        tel = [1.0 / n] * n
    else:
        total = sum(teleport)
        tel = [t / total for t in teleport] if total > 0 else [1.0 / n] * n
    adj: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for (i, j), w in sorted(edges.items()):
        adj[i].append((j, w))
        adj[j].append((i, w))
    out_w = [sum(w for _, w in row) for row in adj]
    rank = list(tel)
    for _ in range(max_iter):
        dangling = sum(rank[i] for i in range(n) if out_w[i] == 0.0)
        new = [(1.0 - damping + damping * dangling) * tel[j] for j in range(n)]
        for i in range(n):
            if out_w[i] == 0.0:
                continue
            share = damping * rank[i] / out_w[i]
            for j, w in adj[i]:
                new[j] += share * w
        delta = sum(abs(new[j] - rank[j]) for j in range(n))
        rank = new
        if delta < tol:
            break
    return rank


@dataclass(frozen=True)
class ExtractiveSummarizer:
    """TextRank/LexRank-style extractive summarizer; see the module docstring."""

    damping: float = 0.85
    edge_threshold: float = 0.05
    cross_speaker_boost: float = 1.3
    mmr_lambda: float = 0.7
    max_redundancy: float = 0.6
    speaker_balance: float = 0.03
    min_words: int = 6
    min_terms: int = 3

    # -- ranking ---------------------------------------------------------------------------------

    def rank(self, sents: Sequence[Sentence]) -> tuple[list[float], list[Vector]]:
        """PageRank score per sentence, and the sentences' TF-IDF vectors."""
        vecs = tfidf_vectors([s.terms for s in sents])
        edges = {}
        for (i, j), sim in similarity_pairs(vecs).items():
            if sim <= self.edge_threshold:
                continue
            if sents[i].speaker_key != sents[j].speaker_key:
                sim *= self.cross_speaker_boost
            edges[(i, j)] = sim
        teleport = [math.sqrt(len(s.terms)) + 0.1 for s in sents]
        return pagerank(len(sents), edges, damping=self.damping, teleport=teleport), vecs

    def _is_candidate(self, s: Sentence) -> bool:
        return s.n_words >= self.min_words and len(set(s.terms)) >= self.min_terms

    def select(
        self,
        transcript: Sequence[Segment],
        *,
        word_limit: int,
        fits: Fits | None = None,
    ) -> list[Sentence]:
        """The picked sentences in meeting order.

        ``fits(picked) -> bool`` decides whether a set of sentences is within the limit; the
        default counts the sentences' own words only (for evaluation without rendering).
        """
        sents = sentences(transcript)
        if not sents:
            return []
        if fits is None:

            def fits(p: list[Sentence]) -> bool:
                return sum(s.n_words for s in p) <= word_limit

        scores, vecs = self.rank(sents)
        cands = [i for i, s in enumerate(sents) if self._is_candidate(s)]
        if not cands:  # nothing substantive: fall back to everything with words
            cands = list(range(len(sents)))
        top = max(scores[i] for i in cands)
        low = min(scores[i] for i in cands)
        span = (top - low) or 1.0
        norm = {i: (scores[i] - low) / span for i in cands}

        picked: list[int] = []
        per_speaker: Counter[str] = Counter()
        redundancy = dict.fromkeys(cands, 0.0)  # max cosine to any picked sentence
        remaining = set(cands)
        while remaining:
            best_i, best_v = -1, -math.inf
            for i in sorted(remaining):
                red = redundancy[i]
                if red > self.max_redundancy:
                    continue
                v = (
                    self.mmr_lambda * norm[i]
                    - (1.0 - self.mmr_lambda) * red
                    - self.speaker_balance * per_speaker[sents[i].speaker_key]
                )
                if v > best_v:  # strict: ties go to the earlier sentence
                    best_i, best_v = i, v
            if best_i < 0:
                break
            remaining.discard(best_i)
            trial = sorted([*picked, best_i])
            if not fits([sents[k] for k in trial]):
                continue  # too long now; a shorter one may still fit
            picked = trial
            per_speaker[sents[best_i].speaker_key] += 1
            for i in remaining:
                sim = cosine(vecs[i], vecs[best_i])
                if sim > redundancy[i]:
                    redundancy[i] = sim
        if not picked:
            # Not even one sentence fits: the best one, cut to the limit.
            best = max(cands, key=lambda i: (norm[i], -i))
            s = sents[best]
            return [_cut(s, fits)]
        return [sents[i] for i in picked]

    # -- Summarizer protocol ---------------------------------------------------------------------

    def summarize(
        self,
        transcript: Sequence[Segment],
        *,
        word_limit: int,
        text_format: TextFormat = "plain_text",
        summary_type: str = "general",
    ) -> str:
        check_args(word_limit, text_format)
        return summarize_with(
            lambda fits: self.select(transcript, word_limit=word_limit, fits=fits),
            word_limit=word_limit,
            text_format=text_format,
            summary_type=summary_type,
        )


def _cut(s: Sentence, fits: Fits) -> Sentence:
    """``s`` with its text shortened until ``fits([s])``."""
    n = s.n_words
    while n > 1:
        n -= 1
        cut = Sentence(
            s.index, s.speaker, s.speaker_key, s.start, s.raw, truncate_words(s.text, n), s.terms
        )
        if fits([cut]):
            return cut
    return Sentence(s.index, s.speaker, s.speaker_key, s.start, s.raw, "", s.terms)


def summarize_with(
    select: Callable[[Fits], list[Sentence]],
    *,
    word_limit: int,
    text_format: TextFormat,
    summary_type: str,
) -> str:
    """Render what ``select(fits)`` picks, so that the rendered text has at most ``word_limit``
    words. The heading is dropped when it alone would leave no room for content."""
    for heading in (True, False):

        def fits(p: list[Sentence], heading: bool = heading) -> bool:
            out = render(p, text_format=text_format, summary_type=summary_type, heading=heading)
            return count_words(out) <= word_limit

        picked = select(fits)
        if not picked:
            return render_message(
                EMPTY_TRANSCRIPT_TEXT,
                word_limit=word_limit,
                text_format=text_format,
                summary_type=summary_type,
            )
        picked = [p for p in picked if p.text]
        if picked and fits(picked):
            return render(
                picked, text_format=text_format, summary_type=summary_type, heading=heading
            )
    # A limit below "speaker label + one word": the best sentence's words alone, cut to the limit.
    picked = select(lambda p: sum(s.n_words for s in p) <= word_limit)
    text = " ".join(p.text for p in picked if p.text)
    return truncate_words(text, word_limit) + "\n"


def lead_baseline(
    transcript: Sequence[Segment],
    *,
    word_limit: int,
    text_format: TextFormat = "plain_text",
    summary_type: str = "general",
    render_output: bool = True,
) -> str | list[Sentence]:
    """The first substantive sentences of the meeting, up to the word limit (for comparison).

    Uses the same sentence handling and candidate filter as ``ExtractiveSummarizer``.
    With ``render_output=False`` returns the picked sentences (words of sentences only).
    """
    check_args(word_limit, text_format)
    base = ExtractiveSummarizer()

    def select(fits: Fits) -> list[Sentence]:
        sents = sentences(transcript)
        cands = [s for s in sents if base._is_candidate(s)] or sents
        picked: list[Sentence] = []
        for s in cands:
            if fits([*picked, s]):
                picked.append(s)
            else:
                break
        if not picked and cands:
            picked = [_cut(cands[0], fits)]
        return picked

    if not render_output:
        return select(lambda p: sum(s.n_words for s in p) <= word_limit)
    return summarize_with(
        select, word_limit=word_limit, text_format=text_format, summary_type=summary_type
    )
