"""The validation page: regenerated from the code and compared with docs/VALIDATION.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from eie_sim.validation import GAP_THRESHOLD, Row, render_markdown, validate

PAGE = Path(__file__).resolve().parent.parent / "docs" / "VALIDATION.md"


def test_a_gap_over_the_threshold_needs_an_explanation():
    assert Row("x", 10.0, 11.5).needs_explanation
    assert not Row("x", 10.0, 10.0 * (1 + GAP_THRESHOLD)).needs_explanation
    assert Row("x", "yes", "no").gap is None
    page = render_markdown([])
    assert "real** pruned" in page and "synthetic" in page


@pytest.mark.slow
def test_the_checked_in_page_is_what_the_code_computes():
    sections = validate()
    unexplained = [(s.title, r.label) for s in sections for r in s.unexplained]
    assert unexplained == [], unexplained
    assert PAGE.read_text(encoding="utf-8") == render_markdown(sections), (
        "docs/VALIDATION.md is stale: run 'eie-sim validate --out docs/VALIDATION.md'")
