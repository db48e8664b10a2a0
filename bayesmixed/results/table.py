"""Tables as data and the one renderer that writes them as text, HTML, markdown and LaTeX.

A `Document` is a title, blocks (`Table`s and free `Lines`), notes saying how the numbers were obtained,
and warnings.  Every printed result (fit summaries, side_by_side, anova, aic_table, compare, the bootstrap)
builds one; `to_text()` is what `print` shows, the other formats carry the same cells.  A `Cell` keeps
the text as printed and the number behind it, so a reader of the HTML can check one against the other
(`data-value`).
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .render import render_table

NOTE_WIDTH = 100


@dataclass(frozen=True)
class Cell:
    """One cell: `text` as printed, `value` the number behind it (None for a label), and an interval."""

    text: str
    value: float | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class Section:
    """A group of rows (e.g. "Random effects") starting at row `start`."""

    label: str
    start: int


@dataclass(frozen=True)
class Table:
    """Column headers, rows of cells, row sections; `align` has one 'l' or 'r' per column (default: first
    left, the rest right); `indent` is for the text form only; `name` becomes a CSS class.  `text`, when
    given, is the text form (numbers in sentences) in place of the aligned grid."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    title: str = ""
    align: str = ""
    sections: tuple[Section, ...] = ()
    indent: str = ""
    name: str = ""
    text: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for position, row in enumerate(self.rows):
            if len(row) != len(self.header):
                raise ValueError(f"row {position} of table {self.title!r} has {len(row)} cells for "
                                 f"{len(self.header)} columns")

    @property
    def alignment(self) -> str:
        return self.align or "l" + "r" * (len(self.header) - 1)

    @property
    def display_alignment(self) -> str:
        """Alignment outside plain text: number columns right (text pads numbers by hand instead)."""
        numeric = [all(cell.value is not None for cell in column if cell.text.strip())
                   and any(cell.text.strip() for cell in column)
                   for column in zip(*self.rows)] or [False] * len(self.header)
        return "".join("r" if is_number else a for is_number, a in zip(numeric, self.alignment))

    @property
    def caption(self) -> str:
        return self.title.strip().rstrip(":")


@dataclass(frozen=True)
class Lines:
    """Free text kept line for line (empty lines separate blocks in the text form only)."""

    lines: tuple[str, ...]


Block = Table | Lines


@dataclass(frozen=True)
class Document:
    """A printed result: title lines, blocks, notes (how each number was obtained) and warnings.

    note_prefix / note_width shape the text form of the notes ("note: " wrapped at 100 columns by default;
    width None keeps each note on one line).
    """

    title: tuple[str, ...] = ()
    blocks: tuple[Block, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    note_prefix: str = "note: "
    note_width: int | None = NOTE_WIDTH
    name: str = ""
    warning_lines: tuple[str, ...] = field(default=("", "WARNINGS:"))

    @property
    def tables(self) -> list[Table]:
        return [block for block in self.blocks if isinstance(block, Table)]

    # ---- text
    def to_text(self) -> str:
        lines = list(self.title)
        for block in self.blocks:
            lines += _text_lines(block)
        for note in self.notes:
            if self.note_width is None:
                lines.append(self.note_prefix + note)
            else:
                indent = " " * len(self.note_prefix)
                lines += textwrap.wrap(note, self.note_width, initial_indent=self.note_prefix,
                                       subsequent_indent=indent) or [self.note_prefix.rstrip()]
        if self.warnings:
            lines += list(self.warning_lines) + [f"* {warning}" for warning in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    # ---- HTML
    def to_html(self) -> str:
        """A <div> of plain tables (caption, thead, tbody per section), notes and warnings as paragraphs;
        class names (bm-…) for styling, every text escaped, numbers in data-value attributes."""
        name = f" bm-{_css(self.name)}" if self.name else ""
        parts = [f'<div class="bm-document{name}">']
        if self.title:
            parts.append('<p class="bm-title">' + "<br>".join(_h(line.strip()) for line in self.title) + "</p>")
        for block in self.blocks:
            parts.append(_html_table(block) if isinstance(block, Table) else _html_lines(block))
        if self.notes:
            parts.append('<div class="bm-notes">' + "".join(f'<p class="bm-note">{_h(n)}</p>' for n in self.notes)
                         + "</div>")
        if self.warnings:
            parts.append('<div class="bm-warnings">'
                         + "".join(f'<p class="bm-warning">{_h(w)}</p>' for w in self.warnings) + "</div>")
        parts.append("</div>")
        return "\n".join(part for part in parts if part)

    def _repr_html_(self) -> str:
        return self.to_html()

    # ---- markdown
    def to_markdown(self) -> str:
        """GitHub markdown: pipe tables (sections as bold rows), free text in code fences, notes as a list."""
        parts = []
        if self.title:
            parts.append("**" + _md(" ".join(line.strip() for line in self.title)) + "**")
        for block in self.blocks:
            text = _markdown_table(block) if isinstance(block, Table) else _markdown_lines(block)
            if text:
                parts.append(text)
        if self.notes:
            parts.append("\n".join(f"- {_md(note)}" for note in self.notes))
        if self.warnings:
            parts.append("\n".join(f"> **Warning:** {_md(warning)}" for warning in self.warnings))
        return "\n\n".join(parts) + "\n"

    # ---- LaTeX
    def to_latex(self) -> str:
        """booktabs tabulars (one table environment each, the title as caption), special characters escaped
        and Greek letters written as math so that pdflatex compiles it; needs \\usepackage{booktabs}."""
        parts = []
        if self.title:
            parts.append("\\paragraph{" + latex_escape(" ".join(line.strip() for line in self.title)) + "}")
        for block in self.blocks:
            text = _latex_table(block) if isinstance(block, Table) else _latex_lines(block)
            if text:
                parts.append(text)
        if self.notes:
            parts.append("\\begin{itemize}\n" + "\n".join(f"\\item {latex_escape(n)}" for n in self.notes)
                         + "\n\\end{itemize}")
        if self.warnings:
            parts.append("\n".join(f"\\textbf{{Warning:}} {latex_escape(w)}\\par" for w in self.warnings))
        return "\n\n".join(parts) + "\n"


class Rendered:
    """Mixin for results that build a `Document`: print, HTML (also in notebooks), markdown and LaTeX."""

    def document(self) -> Document:
        raise NotImplementedError

    def to_html(self) -> str:
        return self.document().to_html()

    def to_markdown(self) -> str:
        return self.document().to_markdown()

    def to_latex(self) -> str:
        return self.document().to_latex()

    def _repr_html_(self) -> str:
        return self.document().to_html()

    def __str__(self) -> str:
        return self.document().to_text()

    def __repr__(self) -> str:
        return self.document().to_text()


class RenderedText(str):
    """The text form of a Document that is still a str (for results that have always returned one, such as
    BayesFit.summary()), with the other formats at hand."""

    document: Document

    @classmethod
    def of(cls, document: Document) -> RenderedText:
        text = cls(document.to_text())
        text.document = document
        return text

    def to_html(self) -> str:
        return self.document.to_html()

    def to_markdown(self) -> str:
        return self.document.to_markdown()

    def to_latex(self) -> str:
        return self.document.to_latex()

    def _repr_html_(self) -> str:
        return self.document.to_html()


def _text_lines(block: Block) -> list[str]:
    if isinstance(block, Lines):
        return list(block.lines)
    if block.text is not None:
        return list(block.text)
    lines = [block.title] if block.title else []
    body = render_table(block.header, [[cell.text for cell in row] for row in block.rows], block.alignment,
                        block.indent)
    starts = {section.start: section.label for section in block.sections}
    lines.append(body[0])
    for position, line in enumerate(body[1:]):
        if position in starts:
            lines.append(block.indent + starts[position] + ":")
        lines.append(line)
    return lines


# ---- HTML pieces
def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _css(name: str) -> str:
    return "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower())


def _number_attribute(name: str, value: float | None) -> str:
    if value is None:
        return ""
    return f' data-{name}="{repr(float(value)) if np.isfinite(value) else "NaN"}"'


def _html_cell(cell: Cell, align: str) -> str:
    kind = "bm-num" if cell.value is not None else "bm-label"
    attributes = (_number_attribute("value", cell.value) + _number_attribute("lower", cell.lower)
                  + _number_attribute("upper", cell.upper))
    return f'<td class="{kind} bm-align-{align}"{attributes}>{_h(cell.text.strip())}</td>'


def _html_table(table: Table) -> str:
    name = f" bm-{_css(table.name)}" if table.name else ""
    n_cols = len(table.header)
    parts = [f'<table class="bm-table{name}">']
    if table.title:
        parts.append(f"<caption>{_h(table.caption)}</caption>")
    align = table.display_alignment
    header = "".join(f'<th scope="col" class="bm-align-{a}">{_h(h)}</th>' for h, a in zip(table.header, align))
    parts.append(f"<thead><tr>{header}</tr></thead>")
    starts = [0] + [s.start for s in table.sections if s.start > 0] + [len(table.rows)]
    labels = {s.start: s.label for s in table.sections}
    for begin, end in zip(starts[:-1], starts[1:]):
        if begin == end and begin not in labels:
            continue
        parts.append('<tbody class="bm-section">')
        if begin in labels:
            parts.append(f'<tr class="bm-section-label"><th scope="rowgroup" colspan="{n_cols}">'
                         f"{_h(labels[begin])}</th></tr>")
        for row in table.rows[begin:end]:
            parts.append("<tr>" + "".join(_html_cell(c, a) for c, a in zip(row, align)) + "</tr>")
        parts.append("</tbody>")
    parts.append("</table>")
    return "\n".join(parts)


def _html_lines(block: Lines) -> str:
    text = "\n".join(block.lines).strip("\n")
    return f'<pre class="bm-text">{_h(text)}</pre>' if text.strip() else ""


# ---- markdown pieces
def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def _markdown_table(table: Table) -> str:
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    lines = [f"**{_md(table.caption)}**", ""] if table.title else []
    lines.append(row([_md(h) for h in table.header]))
    lines.append(row([":---" if a == "l" else "---:" for a in table.display_alignment]))
    labels = {s.start: s.label for s in table.sections}
    for position, cells in enumerate(table.rows):
        if position in labels:
            lines.append(row([f"**{_md(labels[position])}**"] + [""] * (len(table.header) - 1)))
        lines.append(row([_md(cell.text.strip()) for cell in cells]))
    return "\n".join(lines)


def _markdown_lines(block: Lines) -> str:
    text = "\n".join(block.lines).strip("\n")
    return f"```\n{text}\n```" if text.strip() else ""


# ---- LaTeX pieces
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    # OT1-encoded fonts print these as other glyphs in text mode
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_LATEX_UNICODE = {
    "σ": r"$\sigma$", "Σ": r"$\Sigma$", "χ": r"$\chi$", "²": r"$^2$", "Δ": r"$\Delta$", "ℓ": r"$\ell$",
    "γ": r"$\gamma$", "β": r"$\beta$", "θ": r"$\theta$", "τ": r"$\tau$", "ρ": r"$\rho$", "λ": r"$\lambda$",
    "π": r"$\pi$", "ε": r"$\varepsilon$", "α": r"$\alpha$", "μ": r"$\mu$", "η": r"$\eta$", "ν": r"$\nu$",
    "≥": r"$\geq$", "≤": r"$\leq$", "−": "-", "×": r"$\times$", "·": r"$\cdot$", "√": r"$\surd$",
    "≈": r"$\approx$", "…": r"\dots{}", "₀": r"$_0$", "₁": r"$_1$", "–": "--", "—": "---",
}
_LATEX_TABLE = str.maketrans({**_LATEX_SPECIAL, **_LATEX_UNICODE})


def latex_escape(text: str) -> str:
    """LaTeX's special characters escaped (_ % & # $ ^ ~ \\ { }) and common Greek/math symbols as math."""
    return text.translate(_LATEX_TABLE)


def _latex_table(table: Table) -> str:
    n_cols = len(table.header)
    lines = ["\\begin{table}[htbp]", "\\centering"]
    if table.title:
        lines.append(f"\\caption{{{latex_escape(table.caption)}}}")
    lines += [f"\\begin{{tabular}}{{{table.display_alignment}}}", "\\toprule",
              " & ".join(latex_escape(h) for h in table.header) + " \\\\", "\\midrule"]
    labels = {s.start: s.label for s in table.sections}
    for position, row in enumerate(table.rows):
        if position in labels:
            if position:
                lines.append("\\addlinespace")
            lines.append(f"\\multicolumn{{{n_cols}}}{{l}}{{\\textit{{{latex_escape(labels[position])}}}}} \\\\")
        lines.append(" & ".join(latex_escape(cell.text.strip()) for cell in row) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines)


def _latex_lines(block: Lines) -> str:
    text = [line for line in block.lines if line.strip()]
    if not text:
        return ""
    body = "\\\\\n".join(latex_escape(line.strip()) for line in text)
    return "\\begin{flushleft}\\small\n" + body + "\n\\end{flushleft}"
