"""The report as markdown, with its figures written as PNG files into a folder beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .document import Document, Figure, Heading, Panel, Paragraph, Table


def table_markdown(table: Any) -> str:
    """Markdown of a table object: its own to_markdown() (bayesmixed tables), a DataFrame's, or its text fenced."""
    if isinstance(table, pd.DataFrame):
        try:
            body = table.to_markdown(floatfmt=".4g")
        except (ImportError, TypeError):  # pandas needs tabulate for markdown
            body = f"```\n{pd.DataFrame(table).to_string()}\n```"
        notes = getattr(table, "notes", ()) or ()
        if notes and str(notes[0])[:40] not in body:
            body += "\n\n" + "\n".join(f"*note:* {note}  " for note in notes)
        return body
    renderer = getattr(table, "to_markdown", None)
    if callable(renderer) and not isinstance(table, str):
        return renderer()
    return f"```\n{table}\n```"


def _figure(figure: Figure | Paragraph, folder: Path) -> str:
    if isinstance(figure, Paragraph):
        return _paragraph(figure)
    path = folder / f"{figure.name}.png"
    path.write_bytes(figure.png)
    return f"![{figure.caption}]({folder.name}/{path.name})"


def _paragraph(paragraph: Paragraph) -> str:
    prefix = {"note": "*note:* ", "warning": "**warning:** "}.get(paragraph.kind, "")
    return prefix + paragraph.text


def _block(block: Any, folder: Path) -> str:
    if isinstance(block, Paragraph):
        return _paragraph(block)
    if isinstance(block, Heading):
        return f"### {block.text}"
    if isinstance(block, Table):
        return f"**{block.caption}**\n\n{table_markdown(block.table)}"
    if isinstance(block, Figure):
        return _figure(block, folder)
    if isinstance(block, Panel):
        return f"**{block.caption}**\n\n" + "\n".join(_figure(figure, folder) for figure in block.figures)
    raise TypeError(f"unknown report block {type(block).__name__}")


def write_markdown(document: Document, path: Path) -> Path:
    """Write path (markdown) and its figures into <stem>_files/ beside it; returns the folder."""
    folder = path.with_name(f"{path.stem}_files")
    folder.mkdir(parents=True, exist_ok=True)
    parts = [f"# {document.title}", document.subtitle, "## Contents",
             "\n".join(f"{i}. [{s.title}](#{s.id})" for i, s in enumerate(document.sections, 1))]
    for section in document.sections:
        parts.append(f'<a id="{section.id}"></a>\n\n## {section.title}')
        parts.extend(_block(block, folder) for block in section.blocks)
    path.write_text("\n\n".join(parts) + "\n")
    return folder
