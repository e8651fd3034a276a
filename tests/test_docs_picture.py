"""The scale-out picture in docs/scale-out.md is rendered from its source: every label of
docs/scale-out.dot is in docs/scale-out.svg (re-render after editing the source:
dot -Tsvg docs/scale-out.dot -o docs/scale-out.svg)."""

from __future__ import annotations

import html
import re

from nixtools import ROOT

DOCS = ROOT / "docs"


def test_svg_shows_every_label_of_the_source() -> None:
    source = (DOCS / "scale-out.dot").read_text()
    svg = (DOCS / "scale-out.svg").read_text()
    labels = re.findall(r'label="([^"]*)"', source)
    assert len(labels) >= 10, labels
    for label in labels:
        for line in label.split("\\n"):
            # Graphviz writes "-" as "&#45;".
            assert html.escape(line, quote=False).replace("-", "&#45;") in svg, line
    assert "](scale-out.svg)" in (DOCS / "scale-out.md").read_text()
