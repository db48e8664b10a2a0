"""Writes counts.csv: a Poisson GLMM simulated with known parameters (run from the repository root).

count_ij ~ Poisson(exp(0.4 + 0.35 x_ij + u_i)), u_i ~ N(0, 0.6²), 40 sites x 12 visits, x ~ N(0, 1).
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20251130)
sites, visits = 40, 12
site = np.repeat(np.arange(sites), visits)
x = np.round(rng.normal(size=sites * visits), 3)
u = rng.normal(0.0, 0.6, size=sites)
count = rng.poisson(np.exp(0.4 + 0.35 * x + u[site]))
frame = pd.DataFrame({"site": [f"S{s + 1:02d}" for s in site], "x": x, "count": count})
frame.to_csv(Path(__file__).with_name("counts.csv"), index=False)
