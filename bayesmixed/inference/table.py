"""`NotedFrame`: a DataFrame that carries notes and prints them under the table.

The notes say what was done to get the numbers (REML fits refitted by ML, a boundary that makes a
p-value conservative, failed bootstrap refits): lme4 prints such things as messages that scroll away
(lme4#29); here they stay with the result and show whenever it is printed.
"""

from __future__ import annotations

import textwrap

import pandas as pd

NOTE_WIDTH = 100
MAX_FULL_ROWS = 60


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

    def _notes_text(self) -> str:
        notes = getattr(self, "notes", ()) or ()
        lines = []
        for note in notes:
            lines.extend(textwrap.wrap(note, NOTE_WIDTH, initial_indent="note: ", subsequent_indent="      "))
        return "\n".join(lines)

    def __repr__(self) -> str:
        notes = self._notes_text()
        # Every column, however wide: a comparison table with its p-values cut off says nothing.
        table = self.to_string() if len(self) <= MAX_FULL_ROWS else super().__repr__()
        return f"{table}\n{notes}" if notes else table

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_html_(self) -> str | None:
        html = super()._repr_html_()
        notes = getattr(self, "notes", ()) or ()
        if html is None or not notes:
            return html
        return html + "".join(f"<p><em>note:</em> {note}</p>" for note in notes)

    def to_frame(self) -> pd.DataFrame:
        """The table as a plain DataFrame (notes in `.attrs["notes"]`)."""
        frame = pd.DataFrame(self)
        frame.attrs["notes"] = tuple(getattr(self, "notes", ()) or ())
        return frame
