"""One table model, four formats: the rendered HTML, markdown and LaTeX carry the result's own numbers and notes."""

from __future__ import annotations

import re
import warnings
from html.parser import HTMLParser

import numpy as np
import pytest

import bayesmixed as bm
from bayesmixed.results.table import Cell, Document, Lines, Section, Table, latex_escape
from tests.inference.helpers import SLEEP_CORRELATED, SLEEP_INTERCEPT, bayes, lmm


class TableParser(HTMLParser):
    """Every <table>: caption, header cells, body rows of (text, attributes), section labels."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.notes: list[str] = []
        self._cell: dict | None = None
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self.tables.append({"caption": "", "header": [], "rows": [], "sections": []})
        elif tag == "caption":
            self._in = "caption"
        elif tag == "tr":
            self._row: list = []
        elif tag in ("td", "th"):
            self._cell = {"text": "", "attrs": attributes, "tag": tag}
        elif tag == "p" and "bm-note" in attributes.get("class", ""):
            self._in = "note"
            self.notes.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("caption", "p"):
            self._in = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            table = self.tables[-1]
            if all(c["tag"] == "th" and c["attrs"].get("scope") == "col" for c in self._row):
                table["header"] = [c["text"] for c in self._row]
            elif len(self._row) == 1 and self._row[0]["attrs"].get("scope") == "rowgroup":
                table["sections"].append(self._row[0]["text"])
            else:
                table["rows"].append(self._row)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
        elif self._in == "caption":
            self.tables[-1]["caption"] += data
        elif self._in == "note":
            self.notes[-1] += data


def parse(html: str) -> TableParser:
    parser = TableParser()
    parser.feed(html)
    return parser


def html_table(html: str, caption: str) -> dict:
    return next(t for t in parse(html).tables if t["caption"] == caption)


def values(rows: list, column: int) -> list[float]:
    return [float(row[column]["attrs"]["data-value"]) for row in rows]


def markdown_tables(markdown: str) -> list[list[str]]:
    """Blocks of consecutive pipe-table lines (code fences skipped)."""
    blocks, current, fenced = [], [], False
    for line in markdown.splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("|") and not fenced:
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    return blocks + ([current] if current else [])


def pipe_count(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def check_markdown(markdown: str, notes: tuple[str, ...]) -> None:
    tables = markdown_tables(markdown)
    assert tables, "no pipe table"
    for table in tables:
        assert len({pipe_count(line) for line in table}) == 1, table  # every row has the header's columns
        assert re.fullmatch(r"\|( (:---|---:) \|)+", table[1]), table[1]
    for note in notes:
        assert note[:30].replace("_", "\\_").replace("*", "\\*").replace("|", "\\|") in markdown


def check_latex(latex: str) -> None:
    assert latex.count("\\begin{tabular}") == latex.count("\\end{tabular}") == latex.count("\\toprule") >= 1
    body = re.sub(r"\\[a-zA-Z]+|\\[&%$#_{}]|\$[^$]*\$", "", latex)  # commands, escapes and math removed
    for special in "&%$#_^~":
        if special == "&":  # column separators stay
            continue
        assert special not in body, special
    for line in latex.splitlines():
        if line.endswith("\\\\") and "&" in line:
            assert not re.search(r"(?<!\\)[_%#]", line), line


@pytest.fixture(scope="module")
def reml():
    return lmm(SLEEP_CORRELATED)


def test_latex_escapes_every_special_character():
    assert latex_escape("a_b 5% x&y #1 $2 x^2 ~ \\ {z}") == (
        r"a\_b 5\% x\&y \#1 \$2 x\textasciicircum{}2 \textasciitilde{} \textbackslash{} \{z\}")
    assert latex_escape("σ² ≥ 0, p < 0.05 | χ²") == r"$\sigma$$^2$ $\geq$ 0, p \textless{} 0.05 \textbar{} $\chi$$^2$"


def test_a_table_model_renders_sections_and_notes_in_every_format():
    rows = ((Cell("a_1"), Cell("1.50", 1.5)), (Cell("b<&>"), Cell("10.25", 10.25)), (Cell("c"), Cell("-")))
    document = Document(title=("demo",), blocks=(Table(("name", "value"), rows, title="Numbers:",
                                                       sections=(Section("First", 0), Section("Second", 2))),
                                                 Lines(("free text",))),
                        notes=("estimated by 50% magic",), warnings=("careful",))
    assert document.to_text().splitlines() == [
        "demo", "Numbers:", "name value", "First:", "a_1   1.50", "b<&> 10.25", "Second:", "c        -",
        "free text", "note: estimated by 50% magic", "", "WARNINGS:", "* careful"]
    html = document.to_html()
    parsed = parse(html)
    (table,) = parsed.tables
    assert table["caption"] == "Numbers" and table["header"] == ["name", "value"]
    assert table["sections"] == ["First", "Second"] and "b&lt;&amp;&gt;" in html
    assert values(table["rows"][:2], 1) == [1.5, 10.25] and parsed.notes == ["estimated by 50% magic"]
    assert "<pre class=\"bm-text\">free text</pre>" in html and "bm-warning" in html
    markdown = document.to_markdown()
    assert "| **First** |  |" in markdown and "| a\\_1 | 1.50 |" in markdown and "- estimated by 50% magic" in markdown
    check_markdown(markdown, document.notes)
    latex = document.to_latex()
    assert "\\multicolumn{2}{l}{\\textit{Second}}" in latex and r"estimated by 50\% magic" in latex
    assert r"b\textless{}\&\textgreater{}" in latex
    check_latex(latex)
    with pytest.raises(ValueError, match="row 0 .* 1 cells for 2 columns"):
        Table(("a", "b"), ((Cell("x"),),))


def test_lmm_summary_keeps_lme4s_text_and_its_tables_hold_the_fits_numbers(reml):
    summary = reml.summary()
    text = str(summary)
    # lme4's layout, line for line (R 4.x: summary(lmer(Reaction ~ Days + (Days | Subject), sleepstudy)))
    assert ("Random effects:\n"
            " Groups   Name        Variance Std.Dev. Corr\n"
            " Subject  (Intercept) 612.10   24.741\n"
            "          Days         35.07    5.922   0.07\n"
            " Residual             654.94   25.592\n"
            "Number of obs: 180, groups:  Subject, 18\n") in text
    html = summary.to_html()
    random = html_table(html, "Random effects")
    variances = reml.varcorr[reml.varcorr["var2"].isna()]
    np.testing.assert_allclose(values(random["rows"], 2), variances["vcov"], rtol=1e-12)
    np.testing.assert_allclose(values(random["rows"], 3), variances["sdcor"], rtol=1e-12)
    assert [row[2]["text"] for row in random["rows"]] == ["612.10", "35.07", "654.94"]
    fixed = html_table(html, "Fixed effects")
    assert fixed["header"][:6] == ["", "Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]
    np.testing.assert_allclose(values(fixed["rows"], 1), reml.fixef, rtol=1e-12)
    np.testing.assert_allclose(values(fixed["rows"], 2), reml.se, rtol=1e-12)
    notes = parse(html).notes
    assert any("REML point estimates" in n for n in notes) and any("Satterthwaite" in n for n in notes)
    assert summary._repr_html_() == html
    check_markdown(summary.to_markdown(), summary.document().notes)
    latex = summary.to_latex()
    check_latex(latex)
    assert r"Pr(\textgreater{}\textbar{}t\textbar{})" in latex and "\\caption{Random effects}" in latex


def test_glmm_summary_renders_its_wald_tests():
    fit = bm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", bm.datasets.load("cbpp"),
                   family="binomial")
    summary = fit.summary()
    fixed = html_table(summary.to_html(), "Fixed effects")
    assert fixed["header"][3:5] == ["z value", "Pr(>|z|)"]
    np.testing.assert_allclose(values(fixed["rows"], 1), fit.fixef, rtol=1e-12)
    assert "maximum likelihood point estimates" in summary.to_markdown()
    check_latex(summary.to_latex())
    # side_by_side shows a GLMM's random-effect sd (Λ(θ) itself: no σ) and its R²
    frame = bm.side_by_side(ml=fit, intervals="wald").to_frame()
    assert frame.loc["sd_(Intercept)|herd", ("ml", "estimate")] == pytest.approx(fit.varcorr["sdcor"].iloc[0])
    assert frame.loc["R2_conditional", ("ml", "estimate")] == pytest.approx(fit.r2().conditional)


def test_anova_and_aic_table_render_their_frames():
    small, big = lmm(SLEEP_INTERCEPT, reml=False), lmm(SLEEP_CORRELATED, reml=False)
    for table in (bm.anova(small, big), bm.aic_table(small, big)):
        parsed = parse(table.to_html())
        (rendered,) = parsed.tables
        assert rendered["header"] == [""] + list(table.columns)
        assert [row[0]["text"] for row in rendered["rows"]] == list(table.index)
        for column, name in enumerate(table.columns, start=1):
            shown = [float(row[column]["attrs"]["data-value"]) for row in rendered["rows"]]
            np.testing.assert_allclose(shown, table[name].astype(float), rtol=1e-12, equal_nan=True)
        assert parsed.notes == list(table.notes) and any("log-likelihood" in n for n in table.notes)
        markdown = table.to_markdown()
        check_markdown(markdown, table.notes)
        assert pipe_count(markdown_tables(markdown)[0][0]) == len(table.columns) + 2
        latex = table.to_latex()
        check_latex(latex)
        assert r"Reaction \textasciitilde{} Days" in latex and latex.count("\\item ") == len(table.notes)
        assert table._repr_html_() == table.to_html()
    printed = str(bm.anova(small, big)).splitlines()
    assert printed[0].split() == ["npar", "aic", "bic", "loglik", "deviance", "chisq", "df", "p"]
    assert printed[2].split()[-3:] == ["42.1393", "2", "7.07241e-10"]  # lme4: Chisq 42.139, Df 2, 7.072e-10


def test_side_by_side_cells_hold_estimates_and_intervals(reml):
    table = bm.side_by_side(ml=lmm(SLEEP_CORRELATED, reml=False), reml=reml, intervals="wald")
    frame = table.to_frame()
    parsed = parse(table.to_html())
    (rendered,) = parsed.tables
    assert rendered["header"] == ["", "ml", "reml"]
    assert rendered["sections"][:2] == ["Fixed effects", "Random effects and residual (sd, cor, sigma)"]
    for row in rendered["rows"]:
        name = row[0]["text"]
        for column, label in ((1, "ml"), (2, "reml")):
            estimate, lower, upper = frame.loc[name, label][["estimate", "lower", "upper"]]
            attributes = row[column]["attrs"]
            if np.isfinite(estimate):
                assert float(attributes["data-value"]) == estimate
            if np.isfinite(lower):
                assert (float(attributes["data-lower"]), float(attributes["data-upper"])) == (lower, upper)
    assert parsed.notes == list(table.notes) and "REML estimates" in table.notes[1]
    check_markdown(table.to_markdown(), table.notes)
    check_latex(table.to_latex())
    text = str(table)
    assert text.startswith("estimates with 95% intervals") and "Fixed effects:" in text


def test_bootstrap_result_renders_its_numbers():
    result = bm.bootstrap_lrt(lmm(SLEEP_INTERCEPT, reml=False), lmm(SLEEP_CORRELATED, reml=False), n=4, seed=1,
                              progress=False)
    (rendered,) = parse(result.to_html()).tables
    assert [float(c["attrs"]["data-value"]) for c in rendered["rows"][0]] == [
        result.stat, result.df, result.chisq_p, result.p_value, result.mc_se, result.n_ok, result.n_failed]
    assert "bootstrap p = " in str(result) and "(k + 1)/(n + 1)" in result.to_markdown()
    check_latex(result.to_latex())


def test_bayes_summary_and_compare_render():
    fit = bayes(SLEEP_CORRELATED)
    summary = fit.summary()
    assert isinstance(summary, str) and "R-hat" in summary  # still the printed text
    html = summary.to_html()
    random = html_table(html, "Random effects and residual (posterior)")
    names = [row[0]["text"] for row in random["rows"]]
    np.testing.assert_allclose(values(random["rows"], 1), fit.parameters.loc[names, "median"], rtol=1e-12)
    assert any("posterior median" in note for note in parse(html).notes)
    check_latex(summary.to_latex())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = bm.compare({"slopes": fit, "intercepts": bayes(SLEEP_INTERCEPT)})
    (rendered,) = parse(table.to_html()).tables
    column = list(table.columns).index("elpd_diff") + 1
    np.testing.assert_allclose(values(rendered["rows"], column), table["elpd_diff"], rtol=1e-12)
    check_markdown(table.to_markdown(), table.notes)
    check_latex(table.to_latex())
