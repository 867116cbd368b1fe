"""Code, tests and docs cite only what the repository holds: every document named exists, every section
(``§4``) and anchor (``#d17``) named exists in it, every decision id (``D17``, ``Q5``) is defined in
docs/decisions.md (metric decisions from Q11 on may be defined in docs/quality-metrics.md), a file
citing decision ids says where they are, and nothing points outside the repository."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
DECISIONS = DOCS / "decisions.md"


#: Files that name outside documents on purpose: this test (its own examples), and the check
#: that the repository's copy of the published reference report equals the shared original
#: (skipped where that is not mounted).
NOT_CHECKED = {"test_citations.py", "test_reference.py"}


def cited_files() -> list[Path]:
    tests = [
        p
        for p in sorted((ROOT / "tests").rglob("*.py"))
        if "fixtures" not in p.parts and p.name not in NOT_CHECKED
    ]
    files = sorted((ROOT / "src").rglob("*.py")) + tests + sorted(DOCS.rglob("*.md"))
    return [*files, ROOT / "README.md"]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


OUTSIDE = re.compile(
    r"/work/|\.\./shared|\bshared/(?:spec|guides|seeds|real-stats)\b|\bspec [DQ§]?\d"
    r"|§\s?[\d.]+ of the spec"
)
DOC_REF = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.md)(#[\w-]+)?(?:\s+§\s?(\d+(?:\.\d+)*))?")
DECISION = re.compile(r"(?<![\w#-])([DQ])(\d{1,2})(?![\w-])")
APPENDIX = re.compile(r"\bappendix [A-Z]\b", re.IGNORECASE)
HEADING = re.compile(r"^#+\s+(.*)$", re.MULTILINE)
ANCHOR = re.compile(r"""<a\s+id=["']([\w-]+)["']""")


def resolve(name: str, citing: Path) -> Path | None:
    for base in (citing.parent, ROOT, DOCS):
        path = (base / name).resolve()
        if path.is_file() and ROOT in path.parents:
            return path
    if "/" not in name:  # a fixture's notes, named from a test
        return next(iter(sorted((ROOT / "tests" / "fixtures").rglob(name))), None)
    return None


@cache
def anchors(doc: Path) -> set[str]:
    text = doc.read_text()
    found = set(ANCHOR.findall(text))
    for heading in HEADING.findall(text):
        plain = ANCHOR.sub("", heading).replace("</a>", "")
        slug = re.sub(r"[^\w\- ]", "", plain.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


@cache
def sections(doc: Path) -> set[str]:
    numbers = set()
    for heading in HEADING.findall(doc.read_text()):
        match = re.match(r"(?:<a[^>]*></a>)?\s*(\d+(?:\.\d+)*)\.?\s", heading)
        if match:
            numbers.add(match.group(1))
    return numbers


def defined_decisions() -> set[str]:
    ids = {a.upper() for a in anchors(DECISIONS) if re.fullmatch(r"[dq]\d+", a)}
    metrics = (DOCS / "quality-metrics.md").read_text()
    ids |= set(re.findall(r"(?:^\|\s*|^#+.*?|\*\*)(Q\d+)\b", metrics, flags=re.MULTILINE))
    return ids


@pytest.mark.parametrize("path", cited_files(), ids=rel)
def test_citations_resolve(path: Path) -> None:
    text = path.read_text()
    problems = [f"points outside the repository: {m.group(0)!r}" for m in OUTSIDE.finditer(text)]
    for match in DOC_REF.finditer(text):
        name, anchor, section = match.groups()
        doc = resolve(name, path)
        if doc is None:
            problems.append(f"names {name}, which is not in the repository")
            continue
        if anchor and anchor[1:] not in anchors(doc):
            problems.append(f"names {name}{anchor}: no such anchor")
        if section and section not in sections(doc):
            problems.append(f"names {name} §{section}: no such section")
    problems += [
        f"cites {m.group(0)!r}: no document here has appendices"
        for m in APPENDIX.finditer(text)
        if not any(
            APPENDIX.search(h) for d in DOCS.rglob("*.md") for h in HEADING.findall(d.read_text())
        )
    ]
    ids = {f"{kind}{number}" for kind, number in DECISION.findall(text)}
    undefined = sorted(ids - defined_decisions())
    if undefined:
        problems.append(f"cites {undefined}, not defined in docs/decisions.md")
    if path == DECISIONS or ROOT / "tests" in path.parents:
        ids = set()  # where they are defined; tests may cite them bare
    if any(i.startswith("D") for i in ids) and "decisions.md" not in text:
        problems.append("cites contract decisions (Dn) but never says where: docs/decisions.md")
    if any(i.startswith("Q") for i in ids) and not {"decisions.md", "quality-metrics.md"} & set(
        re.findall(r"[\w-]+\.md", text)
    ):
        problems.append("cites metric decisions (Qn) but never says where: docs/decisions.md")
    assert not problems, f"{rel(path)}: " + "; ".join(problems)


def test_the_check_catches_what_it_should(tmp_path: Path) -> None:
    """The patterns find the citations this test exists for."""
    assert OUTSIDE.search("see ../shared/spec/sessions-api.md") is not None
    assert OUTSIDE.search("(spec D17)") is not None
    assert OUTSIDE.search("beyond §5.1 of the spec") is not None
    assert [m.group(1) for m in DOC_REF.finditer("docs/x.md §2.3, and quality-metrics.md")] == [
        "docs/x.md",
        "quality-metrics.md",
    ]
    assert DOC_REF.search("quality-metrics.md §2.3").group(3) == "2.3"  # type: ignore[union-attr]
    assert DECISION.findall("(D13), Q5/Q6, decision Q10; not 3D or ID5 or #d17") == [
        ("D", "13"),
        ("Q", "5"),
        ("Q", "6"),
        ("Q", "10"),
    ]
    assert APPENDIX.search("(sessions-api.md Appendix A)") is not None
    assert {"d17", "q5", "peer-report"} <= anchors(DECISIONS)


def test_docs_index_lists_every_document() -> None:
    index = (DOCS / "README.md").read_text()
    missing = [
        p.name
        for p in sorted(DOCS.glob("*.md"))
        if p.name != "README.md" and f"]({p.name})" not in index
    ]
    assert not missing, f"docs/README.md does not list {missing}"
