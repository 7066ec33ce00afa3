"""eie-sim report: one self-contained HTML page from a run's JSON or a sweep folder.

The page's structure is checked with the standard library's HTML parser (no browser needed):
well-formed nesting, no external resources or scripts, the sections, the layer table equal to
the JSON, the figures as inline SVG with text as text. Where headless Chromium is installed the
page is also rendered to a screenshot.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from eie_sim.cli import main

VOID = {"meta", "br", "img", "hr", "input", "link"}


class Page(HTMLParser):
    """Collects tags, the text of headings and table cells, and nesting errors."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.headings: list[str] = []
        self.cells: list[str] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("h1", "h2", "td"):
            self._text = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()
        if tag in ("h1", "h2", "td") and self._text is not None:
            (self.headings if tag != "td" else self.cells).append("".join(self._text).strip())
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert text.startswith("<!DOCTYPE html>")
    assert not page.errors and not page.stack, (page.errors, page.stack)
    # self-contained: no scripts, no external files
    for tag, attrs in page.tags:
        assert tag != "script" and tag != "link"
        for key in ("src", "href"):
            assert not attrs.get(key, "").startswith(("http", "//", "file:")), (tag, attrs)
    return page


def test_run_report_shows_the_layers_energy_traffic_validation_and_provenance(capsys, tmp_path):
    src = tmp_path / "run.json"
    assert main(["run", "--workload", "alexnet", "--json", str(src), "--no-progress"]) == 0
    assert main(["report", "--from", str(src)]) == 0
    out = tmp_path / "run.html"
    assert capsys.readouterr().out.splitlines()[-1] == str(out)
    page = parse(out.read_text(encoding="utf-8"))
    assert page.headings[1:] == ["Machine", "Layers", "Energy by unit", "Memory traffic",
                                 "Validation", "Provenance"]
    data = json.loads(src.read_text())
    for lr in data["layers"]:
        assert lr["name"] in page.cells and f"{lr['cycles']:,}" in page.cells
    text = out.read_text()
    assert "every layer&#x27;s outputs equal the reference model" in text
    assert data["machine"] in text
    from eie_sim import __version__

    assert __version__ in page.cells
    assert "<svg" in text and "<text" in text  # the energy chart, its text as text


def test_sweep_report_embeds_every_figure_the_sweep_can_make(capsys, tmp_path):
    sweep = tmp_path / "cmp"
    assert main(["sweep", "--arch", "eie,dense", "--workload", "alexnet-fc8,neuraltalk-lstm",
                 "--pes", "16", "--jobs", "1", "--no-progress", "--out", str(sweep)]) == 0
    out = tmp_path / "r.html"
    assert main(["report", "--from", str(sweep), "--out", str(out)]) == 0
    capsys.readouterr()
    page = parse(out.read_text(encoding="utf-8"))
    figures = [a.get("id") for t, a in page.tags if t == "figure"]
    assert figures == ["energy-breakdown", "compare", "roofline"]
    assert sum(t == "svg" for t, _ in page.tags) == 3
    assert "Validation" in page.headings and "Provenance" in page.headings
    assert "4 points ran" in out.read_text()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:  # render it as a person would see it
        shot = tmp_path / "shot.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        f"--screenshot={shot}", "--window-size=1200,2000", out.as_uri()],
                       capture_output=True, timeout=120)
        assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("{not json", "cannot read"),
    ('{"rows": []}', "is not a run's JSON"),
])
def test_bad_sources_are_one_line_errors(capsys, tmp_path, content, message):
    src = tmp_path / "x.json"
    if content is not None:
        src.write_text(content)
    code = main(["report", "--from", str(src)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "x.html").exists()
