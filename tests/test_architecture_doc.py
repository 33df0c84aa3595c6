"""docs/architecture.md stays true to the tree: every path it names exists, its
package map lists every package under mlc/, it stays at most 300 lines, and each
how-to names the test that runs it (a test file that exists).

Paths in its last section, "Where this is going", describe the plan and may not
exist yet; they are not checked.
"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
FUTURE = "Where this is going"
PACKAGE_MAP = "Package map"

#: A repository path as the doc writes it: mlc/..., tests/..., tools/..., docs/...
PATH = re.compile(r"(?<![\w/.-])(?:mlc|tests|tools|docs)/[\w./-]*")


def sections(text: str) -> dict[str, str]:
    """Heading (without the leading ``## `` and numbering) -> its text, for each ``##`` section."""
    out = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        out[re.sub(r"^\d+\.\s*", "", heading).strip()] = body
    return out


def paths(text: str) -> set[str]:
    """Every repository path named in ``text``, without sentence punctuation."""
    return {p.rstrip(".") for p in PATH.findall(text)}


def checked_text(text: str) -> str:
    """``text`` without its "Where this is going" section."""
    parts = re.split(r"^(?=## )", text, flags=re.M)
    return "".join(p for p in parts if not p.startswith(f"## {FUTURE}"))


def missing_paths(text: str, root: Path) -> list[str]:
    return sorted(p for p in paths(checked_text(text)) if not (root / p).exists())


def unlisted_packages(text: str, root: Path) -> list[str]:
    """Folders under mlc/ holding Python modules that the package map does not name."""
    listed = {p.rstrip("/") for p in paths(sections(text)[PACKAGE_MAP])}
    packages = {p.parent.relative_to(root).as_posix() for p in (root / "mlc").rglob("*.py")
                if "__pycache__" not in p.parts}
    return sorted(packages - listed)


def test_every_path_the_doc_names_exists():
    text = DOC.read_text()
    assert len(paths(checked_text(text))) > 50  # the extraction finds the doc's paths
    assert missing_paths(text, ROOT) == [], "docs/architecture.md names paths that do not exist"


def test_package_map_lists_every_package():
    assert unlisted_packages(DOC.read_text(), ROOT) == [], \
        "packages missing from the package map of docs/architecture.md"


def test_the_doc_is_short_and_each_how_to_names_its_test():
    text = DOC.read_text()
    assert len(text.splitlines()) <= 300, "docs/architecture.md: move detail next to the code it describes"
    how_tos = re.split(r"^\*\*", sections(text)["How to"], flags=re.M)[1:]
    assert [h.split("**")[0] for h in how_tos] == ["Add an op", "Add a math intrinsic",
                                                   "Add a schedule primitive.", "Add a backend."]
    for how_to in how_tos:
        tests = [p for p in paths(how_to) if p.startswith("tests/") and p.endswith(".py")]
        assert tests and all((ROOT / p).exists() for p in tests), how_to.splitlines()[0]


def test_the_checks_catch_rot(tmp_path):
    (tmp_path / "mlc" / "old").mkdir(parents=True)
    (tmp_path / "mlc" / "old" / "a.py").write_text("")
    (tmp_path / "mlc" / "new").mkdir()
    (tmp_path / "mlc" / "new" / "b.py").write_text("")
    doc = ("## 1. Pipeline\nSee `mlc/old/a.py` and mlc/gone.py.\n"
           "## 2. Package map\n- `mlc/old/` the old one\n"
           f"## {FUTURE}\nA driver in `mlc/driver/`.\n")
    assert missing_paths(doc, tmp_path) == ["mlc/gone.py"]  # the plan's mlc/driver/ is not checked
    assert unlisted_packages(doc, tmp_path) == ["mlc/new"]
