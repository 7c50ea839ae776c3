"""MkDocs hook: replaces each ``<!-- generated: NAME -->`` line of a page by generated Markdown.

NAME is a block of ``docs/gen_tables.py`` (model and benchmark tables), ``cli-reference``
(``docs/gen_cli.py``) or ``scenario-reference`` (``docs/gen_schema.py``). An unknown name fails
the build.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_cli  # noqa: E402
import gen_schema  # noqa: E402
import gen_tables  # noqa: E402

MARKER = re.compile(r"^<!-- generated: ([a-z0-9-]+) -->$", re.MULTILINE)
EXTRA = {
    "cli-reference": gen_cli.cli_reference_markdown,
    "scenario-reference": gen_schema.scenario_reference_markdown,
}


def generated(name: str) -> str:
    if name in EXTRA:
        return EXTRA[name]()
    if name in gen_tables.GENERATED:
        return gen_tables.render(name)
    known = sorted([*EXTRA, *gen_tables.GENERATED])
    raise KeyError(f"unknown generated block {name!r}; known: {', '.join(known)}")


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (MkDocs' signature)
    return MARKER.sub(lambda m: generated(m.group(1)), markdown)


# Result plots live beside the results they show (assets/*/, examples/results/*/), written by the
# commands that evaluate; the site serves them from the same paths, relative to the docs.
ROOT = Path(__file__).resolve().parent.parent
SHARED_IMAGES = ("assets/*/*.png", "examples/results/*/*.png")


def on_files(files, config):  # noqa: ANN001, ANN201 (MkDocs' signature)
    from mkdocs.structure.files import File

    for pattern in SHARED_IMAGES:
        for path in sorted(ROOT.glob(pattern)):
            uri = path.relative_to(ROOT).as_posix()
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
