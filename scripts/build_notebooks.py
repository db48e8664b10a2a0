"""Build the teaching notebooks from their reviewable sources, and run them with a Jupyter kernel.

Each notebook is written as a Python file in the "percent" format, notebooks/source/NN_name.py: a line
`# %%` starts a code cell, `# %% [markdown]` a markdown cell whose lines are comments. This script turns
them into notebooks/NN_name.ipynb (nbformat) and, with --execute, runs each one top to bottom in a fresh
ipykernel (nbclient) and saves the outputs, so a reader on the web sees every table and figure.

    python scripts/build_notebooks.py                  # write the .ipynb files, without outputs
    python scripts/build_notebooks.py --execute        # ... and run them (the committed, full-length run)
    python scripts/build_notebooks.py --execute --draws 200 02   # one notebook, short chains

The Monte Carlo size (posterior draws per chain, bootstrap replicates, simulated data sets) is read by the
notebooks from the environment variable BAYESMIXED_NOTEBOOK_DRAWS (default 1000); the test suite sets it
small. The last cell of every notebook prints its lessons as one JSON line, `LESSONS {...}`, which
tests/test_notebooks.py checks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
SOURCE_DIR = NOTEBOOK_DIR / "source"
DRAWS_VARIABLE = "BAYESMIXED_NOTEBOOK_DRAWS"
LESSONS_PREFIX = "LESSONS "
CELL_MARKER = "# %%"
MARKDOWN_MARKER = "# %% [markdown]"
# Seconds one cell may run: the first Bayesian fit on a clean checkout compiles the sampler's kernel (~40 s).
CELL_TIMEOUT = 600


def sources() -> list[Path]:
    """The notebooks' source files, in the teaching order their names give."""
    return sorted(SOURCE_DIR.glob("[0-9][0-9]_*.py"))


def _markdown_text(lines: list[str]) -> str:
    """Markdown from comment lines: '# text' -> 'text', a bare '#' -> an empty line (blank lines after the
    cell, before the next marker, are not part of it)."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    out = []
    for line in lines:
        if line.startswith("# "):
            out.append(line[2:])
        elif line.rstrip() == "#":
            out.append("")
        else:
            raise ValueError(f"markdown cell line is not a comment: {line!r}")
    return "\n".join(out).strip("\n")


def parse_cells(text: str) -> list[tuple[str, str]]:
    """[(kind, source)] from a percent-format file; kind is 'markdown' or 'code'. Text before the first
    marker (the module docstring) is not a cell."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith(CELL_MARKER):
            if line.strip() not in (CELL_MARKER, MARKDOWN_MARKER):
                raise ValueError(f"unknown cell marker {line!r}; use '{CELL_MARKER}' or '{MARKDOWN_MARKER}'")
            cells.append(("markdown" if line.strip() == MARKDOWN_MARKER else "code", []))
        elif cells:
            cells[-1][1].append(line)
    parsed = []
    for kind, lines in cells:
        source = _markdown_text(lines) if kind == "markdown" else "\n".join(lines).strip("\n")
        if source:
            parsed.append((kind, source))
    return parsed


def build(source: Path):
    """The notebook (nbformat v4, no outputs) written by one source file."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    for kind, text in parse_cells(source.read_text()):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        notebook.cells.append(make(text))
    # ids from the position, so rebuilding an unchanged source gives an identical file
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{source.stem[:2]}-{index:03d}"
    return notebook


def kernel_environment(draws: int | None) -> dict[str, str]:
    """The kernel's environment: this interpreter first on PATH (the kernelspec runs `python`), the
    notebooks' Monte Carlo size, and no MPLBACKEND (so figures go inline into the outputs)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("MPLBACKEND", None)
    if draws is not None:
        env[DRAWS_VARIABLE] = str(draws)
    return env


def execute(notebook, draws: int | None, timeout: int = CELL_TIMEOUT):
    """Run the notebook top to bottom in a fresh ipykernel (cwd notebooks/); outputs are stored in it."""
    from nbclient import NotebookClient

    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute(env=kernel_environment(draws))
    return notebook


def lessons(notebook) -> dict:
    """The JSON the notebook's last cell printed after LESSONS_PREFIX."""
    for cell in reversed(notebook.cells):
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(LESSONS_PREFIX):
                    return json.loads(line[len(LESSONS_PREFIX):])
    raise ValueError("the notebook printed no LESSONS line")


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="notebook number prefixes to build (default: all)")
    parser.add_argument("--execute", action="store_true", help="run the notebooks and save their outputs")
    parser.add_argument("--draws", type=int, default=None, help=f"sets {DRAWS_VARIABLE} for the run")
    args = parser.parse_args(argv)
    chosen = [s for s in sources() if not args.only or s.name[:2] in args.only]
    if not chosen:
        parser.error(f"no notebook source matches {args.only} in {SOURCE_DIR}")
    for source in chosen:
        notebook = build(source)
        target = NOTEBOOK_DIR / f"{source.stem}.ipynb"
        if args.execute:
            started = time.perf_counter()
            execute(notebook, args.draws)
            print(f"{target.name}: executed in {time.perf_counter() - started:.1f} s; lessons {lessons(notebook)}")
        nbformat.write(notebook, target)
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
