"""docs/results.md's measured numbers, written from the files the runs generated.

The page is prose around generated blocks. Each block names the file it comes from, optionally
one ``## `` section of it (by the start of its heading), and the command that measured it::

    <!-- results: reports/tiny/accuracy.md#Merging vs ensembling | make run -->
    ...written by this module: the section's text, then a line linking its file...
    <!-- /results -->

``python -m neulig.reporting.results_doc [docs/results.md]`` (``make docs``) rewrites every
block whose file exists (paths relative to the repository root) and leaves the others as they
are, naming them; ``--strict`` fails on a missing one instead. Without ``#``, a block takes
the file's text before its first ``## `` section (the title line left out). Kept free of pandas
and torch: it only reads Markdown.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from neulig import io

BLOCK = re.compile(
    r"<!-- results: (?P<path>[^#|]+?)(?:#(?P<section>[^|]*?))? \| (?P<command>.+?) -->\n"
    r"(?P<body>.*?)<!-- /results -->",
    re.DOTALL,
)


def section_text(markdown: str, heading: str | None) -> tuple[str, str | None]:
    """The body of the ``## `` section whose heading starts with ``heading`` (without its
    heading line) and that heading; with no ``heading``, the text before the first section."""
    parts = re.split(r"^## (.*)$", markdown, flags=re.MULTILINE)
    if not heading:
        lines = parts[0].splitlines()
        return "\n".join(line for line in lines if not line.startswith("# ")).strip(), None
    for title, body in zip(parts[1::2], parts[2::2], strict=True):
        if title.startswith(heading.strip()):
            return body.strip(), title
    raise KeyError(f"no section '## {heading.strip()}...'")


def render_block(root: Path, doc: Path, match: re.Match) -> str:
    """One block, written anew from its file."""
    path, command = match["path"].strip(), match["command"].strip()
    text, title = section_text((root / path).read_text(), match["section"])
    link = os.path.relpath(root / path, doc.parent)
    where = f' (section "{title}")' if title else ""
    source = f"*Measured by `{command}`; written to [{path}]({link}){where}.*"
    return f"{match.group(0).splitlines()[0]}\n{text}\n\n{source}\n<!-- /results -->"


def fill(doc: Path, root: Path, strict: bool = False) -> list[str]:
    """Rewrite ``doc``'s blocks from their files; returns the files it could not read."""
    missing: list[str] = []

    def replace(match: re.Match) -> str:
        if not (root / match["path"].strip()).is_file():
            missing.append(match["path"].strip())
            return match.group(0)
        return render_block(root, doc, match)

    text = BLOCK.sub(replace, doc.read_text())
    if strict and missing:
        raise FileNotFoundError(f"not generated yet: {', '.join(missing)}")
    with io.atomic_path(doc) as tmp:
        tmp.write_text(text)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("doc", nargs="?", default="docs/results.md")
    parser.add_argument("--root", default=".", help="the repository (where reports/ is)")
    parser.add_argument("--strict", action="store_true", help="fail on a missing file")
    args = parser.parse_args(argv)
    try:
        missing = fill(Path(args.doc), Path(args.root), args.strict)
    except (FileNotFoundError, KeyError) as err:
        print(f"results_doc: error: {err}", file=sys.stderr)
        return 1
    for path in missing:
        print(f"results_doc: {path} not generated here; its block is left as it was")
    return 0


if __name__ == "__main__":
    sys.exit(main())
