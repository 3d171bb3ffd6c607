"""The README and docs/: short, every run or benchmark figure generated, and the layout complete."""
import re

import pytest

from benchmarks import report
from conftest import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A figure typed by hand: four decimals (an AUC) or a percentage to two decimals (accuracy, labels kept).
TYPED_FIGURE = re.compile(r"(?<![\w.])\d+\.\d{4}(?!\d)|(?<![\w.])\d+\.\d{2}%")
BLOCK = re.compile(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->", re.S)


def test_every_generated_block_is_what_the_command_writes_now():
    stale = [str(path.relative_to(ROOT)) for path, (now, generated) in report.rendered().items() if now != generated]
    assert not stale, f"run `python -m benchmarks.report`: stale blocks in {stale}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_prose_carries_no_hand_typed_figures(path):
    prose = BLOCK.sub("", path.read_text())
    assert not TYPED_FIGURE.findall(prose), f"{path.name}: figures outside generated blocks"


def test_the_readme_is_short_and_links_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in readme, f"the README does not link docs/{page.name}"


def test_the_layout_lists_every_module():
    layout = (ROOT / "docs" / "architecture.md").read_text().split("## Layout", 1)[1]
    listed = set(re.findall(r"^  ([\w, ]+?)\s{2,}", layout, re.M))
    names = {name.strip() for entry in listed for name in entry.split(",")}
    modules = {path.stem for path in (ROOT / "src" / "complaints").glob("*.py")} - {"__init__"}
    assert modules <= names, f"modules missing from the layout: {sorted(modules - names)}"
