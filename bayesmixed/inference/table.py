"""`NotedFrame`: a DataFrame that carries notes and prints them under the table.

The notes say what was done to get the numbers (REML fits refitted by ML, a boundary that makes a
p-value conservative, failed bootstrap refits): lme4 prints such things as messages that scroll away
(lme4#29); here they stay with the result and show whenever it is printed, in every format
(text, HTML, markdown, LaTeX) through results.table.
"""

from __future__ import annotations

import pandas as pd

from ..results.render import format_column
from ..results.table import Cell, Document, Table

# Significant digits of the printed numbers: a comparison table is read for small differences.
DIGITS = 6


def frame_table(frame: pd.DataFrame, title: str = "", name: str = "") -> Table:
    """A DataFrame as a Table: the index as the first (label) column, each numeric column formatted as one
    column (common decimals, R's format), missing values blank, other columns as text."""
    columns = []
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            columns.append([Cell("" if pd.isna(v) else str(v)) for v in values])
        elif pd.api.types.is_integer_dtype(values):
            columns.append([Cell("" if pd.isna(v) else str(int(v)), float("nan") if pd.isna(v) else float(v))
                            for v in values])
        else:
            numbers = [None if pd.isna(v) else float(v) for v in values]
            columns.append([Cell(text, v if v is not None else float("nan"))
                            for text, v in zip(format_column(numbers, DIGITS), numbers)])
    rows = tuple((Cell(str(label)), *(column[i] for column in columns)) for i, label in enumerate(frame.index))
    return Table(("",) + tuple(str(c) for c in frame.columns), rows, title=title, name=name)


class NotedFrame(pd.DataFrame):
    """A pandas DataFrame with `notes` (a tuple of sentences) printed beneath it."""

    _metadata = ["notes"]

    @property
    def _constructor(self):
        return NotedFrame

    @classmethod
    def with_notes(cls, frame: pd.DataFrame, notes: list[str] | tuple[str, ...]) -> "NotedFrame":
        out = cls(frame)
        out.notes = tuple(notes)
        return out

    def document(self) -> Document:
        """The table and its notes for the renderer."""
        return Document(blocks=(frame_table(pd.DataFrame(self)),), notes=tuple(getattr(self, "notes", ()) or ()))

    def __repr__(self) -> str:
        # Every column, however wide: a comparison table with its p-values cut off says nothing.
        return self.document().to_text()

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_html_(self) -> str:
        return self.document().to_html()

    def to_html(self) -> str:  # type: ignore[override]
        """The table and its notes as HTML (results.table's renderer, not pandas')."""
        return self.document().to_html()

    def to_markdown(self) -> str:  # type: ignore[override]
        """The table and its notes as a GitHub markdown pipe table and a list."""
        return self.document().to_markdown()

    def to_latex(self) -> str:  # type: ignore[override]
        """The table and its notes as a booktabs tabular."""
        return self.document().to_latex()

    def to_frame(self) -> pd.DataFrame:
        """The table as a plain DataFrame (notes in `.attrs["notes"]`)."""
        frame = pd.DataFrame(self)
        frame.attrs["notes"] = tuple(getattr(self, "notes", ()) or ())
        return frame
