"""The report as one self-contained HTML file: inline CSS (with print styles), figures as base64 PNG, no scripts
and no external links."""

from __future__ import annotations

import base64
import html
from typing import Any

import pandas as pd

from .document import Document, Figure, Heading, Panel, Paragraph, Table

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 1.5em 3em; color: #1d1d1f; line-height: 1.45; }
header { border-bottom: 3px solid #2a6f97; margin-bottom: 1em; }
h1 { margin-bottom: 0.2em; } .subtitle { color: #555; margin-top: 0; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; color: #2a6f97; }
h3 { margin-top: 1.4em; }
nav ol { columns: 2; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.85em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #eef3f7; } tbody tr:nth-child(even) { background: #fafafa; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3em; }
.table-wrap { overflow-x: auto; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
p.note { color: #444; font-size: 0.9em; } p.note::before { content: "note: "; font-style: italic; }
p.warning { background: #fff4e5; border-left: 4px solid #e8a33d; padding: 0.4em 0.8em; }
.notes p { margin: 0.2em 0; font-size: 0.85em; color: #444; }
.panel { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 0.8em; }
.panel.wide { grid-template-columns: 1fr; } .panel.wide figure { max-width: 1000px; }
figure { margin: 0; border: 1px solid #e3e3e3; padding: 0.3em; background: white; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: 0.8em; color: #555; padding-top: 0.2em; }
.panel-caption { font-weight: 600; margin: 1em 0 0.4em; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  section { break-before: page; } section:first-of-type { break-before: auto; }
  figure, table { break-inside: avoid; }
  .panel { grid-template-columns: repeat(2, 1fr); } .panel.wide { grid-template-columns: 1fr; }
  .table-wrap { overflow: visible; }
}
"""


def table_html(table: Any) -> str:
    """HTML of a table object: its own to_html() (bayesmixed tables, with their notes), a DataFrame's, or its text."""
    if isinstance(table, str):
        return f"<pre>{html.escape(table)}</pre>"
    if isinstance(table, pd.DataFrame):
        try:
            body = table.to_html(float_format=lambda x: f"{x:.4g}", na_rep="–", border=0, index_names=False)
        except TypeError:  # a bayesmixed table with its own renderer's signature
            body = table.to_html()
        notes = getattr(table, "notes", ()) or ()
        if notes and html.escape(str(notes[0]))[:40] not in body:
            body += '<div class="notes">' + "".join(f"<p>note: {html.escape(note)}</p>" for note in notes) + "</div>"
        return body
    renderer = getattr(table, "to_html", None)
    if callable(renderer):
        return renderer()
    return f"<pre>{html.escape(str(table))}</pre>"


def _figure(figure: Figure | Paragraph) -> str:
    if isinstance(figure, Paragraph):
        return _paragraph(figure)
    data = base64.b64encode(figure.png).decode("ascii")
    caption = html.escape(figure.caption)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _paragraph(paragraph: Paragraph) -> str:
    css = f' class="{paragraph.kind}"' if paragraph.kind != "text" else ""
    return f"<p{css}>{html.escape(paragraph.text)}</p>"


def _block(block: Any) -> str:
    if isinstance(block, Paragraph):
        return _paragraph(block)
    if isinstance(block, Heading):
        return f"<h3>{html.escape(block.text)}</h3>"
    if isinstance(block, Table):
        return (f'<div class="table-wrap"><p class="panel-caption">{html.escape(block.caption)}</p>'
                f"{table_html(block.table)}</div>")
    if isinstance(block, Figure):
        return _figure(block)
    if isinstance(block, Panel):
        return (f'<p class="panel-caption">{html.escape(block.caption)}</p>'
                f'<div class="panel{" wide" if block.wide else ""}">'
                + "".join(_figure(figure) for figure in block.figures) + "</div>")
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_html(document: Document) -> str:
    """The whole report as one HTML string."""
    contents = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in document.sections)
    sections = "".join(
        f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>' + "".join(_block(b) for b in s.blocks) + "</section>"
        for s in document.sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(document.title)}"
            f"</title><style>{CSS}</style></head><body><header><h1>{html.escape(document.title)}</h1>"
            f"<p class=\"subtitle\">{html.escape(document.subtitle)}</p></header><nav><ol>{contents}</ol></nav>"
            f"{sections}</body></html>\n")
