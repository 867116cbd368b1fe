"""ROUGE evaluation of the embedded extractive summarizer against human meeting summaries.

    .venv/bin/python bench/summarize.py [--limits ref,100,150]

For every fixture meeting (tests/fixtures/transcripts, real AMI meetings) and every human
reference summary (QMSum "summarize the whole meeting" answer; AMI abstract), scores at the same
word limit:

* ``extractive``: ``ExtractiveSummarizer`` (defaults);
* ``textrank-only``: the same ranking without MMR, speaker boost or speaker balance (ablation);
* ``lead``: ``lead_baseline`` (first substantive sentences).

Scored text: the selected sentences only (no heading, no speaker labels), at most ``limit`` words.
``ref`` as a limit means the length of that reference in words.

ROUGE is implemented here (no dependencies): tokens are lower-cased ``[a-z0-9]+`` runs, no
stemming, no stop-word removal; ROUGE-N F1 from clipped n-gram overlap counts; ROUGE-L F1 from the
longest common subsequence over the whole text (not the sentence-level "summary-level" LCS).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rtk_sessions.summarize import ExtractiveSummarizer, lead_baseline  # noqa: E402
from rtk_sessions.summarize.text import count_words  # noqa: E402


def _load_ami():
    spec = importlib.util.spec_from_file_location("ami_fixtures", ROOT / "tests/summarize/ami.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["ami_fixtures"] = mod  # dataclasses need the module registered
    spec.loader.exec_module(mod)
    return mod


_TOK = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    return _TOK.findall(text.lower())


def _f1(overlap: int, n_cand: int, n_ref: int) -> float:
    if overlap == 0 or n_cand == 0 or n_ref == 0:
        return 0.0
    p, r = overlap / n_cand, overlap / n_ref
    return 2 * p * r / (p + r)


def rouge_n(cand: str, ref: str, n: int) -> float:
    def grams(toks: list[str]) -> Counter[tuple[str, ...]]:
        return Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))

    c, r = grams(tokens(cand)), grams(tokens(ref))
    overlap = sum((c & r).values())
    return _f1(overlap, sum(c.values()), sum(r.values()))


def lcs_len(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(cand: str, ref: str) -> float:
    c, r = tokens(cand), tokens(ref)
    return _f1(lcs_len(c, r), len(c), len(r))


def scores(cand: str, ref: str) -> tuple[float, float, float]:
    return rouge_n(cand, ref, 1), rouge_n(cand, ref, 2), rouge_l(cand, ref)


METHODS = {
    "extractive": lambda segs, limit: ExtractiveSummarizer().select(segs, word_limit=limit),
    "textrank-only": lambda segs, limit: ExtractiveSummarizer(
        mmr_lambda=1.0, max_redundancy=1.01, cross_speaker_boost=1.0, speaker_balance=0.0
    ).select(segs, word_limit=limit),
    "lead": lambda segs, limit: lead_baseline(segs, word_limit=limit, render_output=False),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limits", default="ref,100,150", help="comma list: numbers and/or 'ref'")
    ap.add_argument("--show", action="store_true", help="print the extractive summaries")
    args = ap.parse_args(argv)
    ami = _load_ami()
    limits = [x.strip() for x in args.limits.split(",") if x.strip()]

    rows = []
    totals: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for mid in ami.meeting_ids():
        m = ami.load_meeting(mid)
        for ref_name, ref in sorted(m.references.items()):
            for lim in limits:
                limit = count_words(ref) if lim == "ref" else int(lim)
                for method, fn in METHODS.items():
                    picked = fn(m.segments, limit)
                    text = " ".join(s.text for s in picked)
                    assert count_words(text) <= limit, (method, limit)
                    sc = scores(text, ref)
                    rows.append((mid, ref_name, lim, limit, method, count_words(text), *sc))
                    totals.setdefault((lim, method), []).append(sc)
                    if args.show and method == "extractive":
                        print(f"--- {mid} {ref_name} limit {limit}\n{text}\n")

    hdr = ("meeting", "reference", "limit", "words", "method", "out", "R-1", "R-2", "R-L")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for mid, ref_name, lim, limit, method, n, r1, r2, rl in rows:
        lim_s = f"ref ({limit})" if lim == "ref" else str(limit)
        print(
            f"| {mid} | {ref_name} | {lim_s} | {limit} | {method} | {n} | "
            f"{r1:.3f} | {r2:.3f} | {rl:.3f} |"
        )
    print()
    print("Mean F1 over all meeting x reference pairs:\n")
    print("| limit | method | R-1 | R-2 | R-L |")
    print("|---|---|---|---|---|")
    for (lim, method), scs in totals.items():
        k = len(scs)
        m1, m2, ml = (sum(s[i] for s in scs) / k for i in range(3))
        print(f"| {lim} | {method} | {m1:.3f} | {m2:.3f} | {ml:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
