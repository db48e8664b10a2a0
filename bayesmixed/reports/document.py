"""The report as data: sections of paragraphs, tables and figures, rendered by html.py and markdown.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True)
class Paragraph:
    text: str
    kind: str = "text"  # "text" | "note" | "warning"


@dataclass(frozen=True)
class Table:
    """A table object rendered through its own to_html()/to_markdown() where it has them, else as text."""

    caption: str
    table: Any


@dataclass(frozen=True)
class Figure:
    """A drawn figure as PNG bytes (embedded in HTML as base64, written beside markdown)."""

    name: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Panel:
    """Figures laid out as a grid."""

    caption: str
    figures: tuple[Figure, ...]
    wide: bool = False  # one figure per row: multi-panel figures that need the page's width


@dataclass(frozen=True)
class Heading:
    text: str


Block = Union[Paragraph, Table, Figure, Panel, Heading]


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> "Section":
        self.blocks.extend(blocks)
        return self


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]


# The sections every report holds, in order (the browser test checks for each id).
SECTION_IDS = ("fitted", "estimates", "criteria", "lrt", "bayes-comparison", "diagnostics", "simulated-residuals",
               "sampler")
