"""The hand-written ROUGE in bench/summarize.py, checked on textbook examples."""

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> Any:
    path = ROOT / "bench" / "summarize.py"
    spec = importlib.util.spec_from_file_location("rtk_bench_summarize", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_rouge_values(bench: Any) -> None:
    ref = "the cat was under the bed"
    cand = "the cat was found under the bed"
    # unigrams: 6 of 7 candidate, 6 of 6 reference
    assert bench.rouge_n(cand, ref, 1) == pytest.approx(2 * (6 / 7) * 1 / (6 / 7 + 1))
    # bigrams: the-cat, cat-was, under-the, the-bed = 4 of 6 / 4 of 5
    assert bench.rouge_n(cand, ref, 2) == pytest.approx(2 * (4 / 6) * (4 / 5) / (4 / 6 + 4 / 5))
    assert bench.lcs_len(["a", "b", "c", "d"], ["a", "c", "b", "d"]) == 3
    assert bench.rouge_l(cand, ref) == pytest.approx(2 * (6 / 7) * 1 / (6 / 7 + 1))
    assert bench.rouge_n("", ref, 1) == 0.0
    assert bench.rouge_n("The CAT!", "the cat", 1) == 1.0


def test_bench_runs(bench: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--limits", "60"]) == 0
    out = capsys.readouterr().out
    assert "| ES2002a | qmsum_general | 60 |" in out and "lead" in out
