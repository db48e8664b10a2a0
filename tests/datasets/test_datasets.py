"""Bundled data load with grouping factors as categoricals; the simulated sets are reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import DataError

ROWS = {"sleepstudy": 180, "dyestuff": 30, "penicillin": 144, "pastes": 60, "cbpp": 56, "verbagg": 7584,
        "insteval": 73421, "sim_slopes": 20000}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_load_sizes_and_factor_columns(name):
    frame = bm.datasets.load(name)
    assert len(frame) == ROWS[name]
    for column in bm.datasets.DATASETS[name].factors:
        assert isinstance(frame[column].dtype, pd.CategoricalDtype), column


def test_list_describes_every_data_set():
    table = bm.datasets.list()
    assert set(table["name"]) == set(ROWS) | {"households"}
    assert (table["rows"] > 0).all()


def test_unknown_data_set_names_close_matches():
    with pytest.raises(DataError, match="unknown data set 'sleepstudi'.*sleepstudy"):
        bm.datasets.load("sleepstudi")


def test_r_level_orders():
    assert list(bm.datasets.load("cbpp")["herd"].cat.categories[:3]) == ["1", "2", "3"]
    assert list(bm.datasets.load("verbagg")["mode"].cat.categories) == ["want", "do"]
    assert list(bm.datasets.load("verbagg")["r2"].cat.categories) == ["N", "Y"]


def test_sim_slopes_reproduces_the_shared_benchmark_file():
    frame = bm.datasets.load("sim_slopes")
    # first rows of shared/data/sim_slopes.csv
    assert frame["y"].iloc[:3].to_numpy() == pytest.approx([265.2817085353262, 289.94388794395024, 287.413953],
                                                           rel=1e-9)
    assert frame["x"].iloc[0] == pytest.approx(5.625859199442003, rel=1e-12)
    assert frame["g"].nunique() == 1000 and (frame.groupby("g", observed=True).size() == 20).all()


def test_households_uneven_reproducible_with_true_means():
    a = bm.datasets.simulate_households(seed=11)
    b = bm.datasets.simulate_households(seed=11)
    c = bm.datasets.simulate_households(seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a["income"].equals(c["income"])
    sizes = a.groupby("postcode", observed=True).size()
    assert sizes.min() == 1 and (sizes <= 2).sum() >= 4 and sizes.max() >= 250
    per_postcode = a.groupby("postcode", observed=True)["true_mean"].nunique()
    assert (per_postcode == 1).all()
    # the sample means of big postcodes sit near their true means; tiny postcodes scatter widely
    big = sizes[sizes >= 200].index
    means = a.groupby("postcode", observed=True)["income"].mean()
    truth = a.groupby("postcode", observed=True)["true_mean"].first()
    assert np.all(np.abs(means[big] - truth[big]) < 3.0)
