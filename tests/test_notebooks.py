"""The teaching notebooks run top to bottom (short chains), so what they show stays true."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("BAYESMIXED_NOTEBOOK_DRAWS", "200")
    cells = json.loads(path.read_text())["cells"]
    namespace: dict = {"__name__": "__notebook__"}
    for cell in cells:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{path.name}", "exec"), namespace)  # noqa: S102
    # the notebook's own objects carry the lesson: REML's variance exceeds ML's, both ICCs in (0, 1)
    reml, ml = namespace["reml"], namespace["ml"]
    assert reml.varcorr["vcov"].iloc[0] > ml.varcorr["vcov"].iloc[0]
    assert 0 < float(ml.icc().iloc[0] if hasattr(ml.icc(), "iloc") else ml.icc()) < 1
