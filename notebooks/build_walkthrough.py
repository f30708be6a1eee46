"""Write notebooks/screening_walkthrough.ipynb (cells below, no outputs). Run after editing the cells."""

from pathlib import Path

import nbformat as nbf

CELLS = [
    ("md", """# Screening walkthrough — an analyst's tour

This notebook runs the state screening of industripark submissions step by step through the package API
(`screening.*`): load the layers and the submissions, inspect the exclusions, read one score card's
numbers, change a weight, re-run the selection and compare. It uses the approximate 2025 applications
from the offline mirror (`../shared/dk-layers`). Every number here comes from the same functions that
`make screen` runs; nothing is re-implemented."""),
    ("code", """import pandas as pd
from screening import catalog, pipeline, selection, submissions
from screening.config import load_catalog, load_criteria, settings_from_env

pd.set_option("display.width", 160)
settings = settings_from_env()
cat = load_catalog(settings=settings)
criteria = load_criteria(settings=settings, catalog=cat)
# The same allowed-missing exclusion layers as `make screen` (the mirror has no copy of them):
ALLOW_MISSING = ["natura2000_habitat", "bes_naturtyper", "naturnationalparker"]
needed = ["kommuner", "regioner", *sorted(criteria.layer_ids()), *pipeline.CONTEXT_LAYERS]
layer_set = catalog.load_layers(needed, catalog=cat, settings=settings, allow_missing=ALLOW_MISSING)
pd.DataFrame([{"layer": k, "features": len(v), "origin": v.attrs["origin"], "source": v.attrs["source"]}
              for k, v in layer_set.layers.items()])"""),
    ("md", "Layers that did not resolve on this machine — the exclusion ones make the screening *incomplete*:"),
    ("code", """pd.Series({k: cat.get(k).role for k in layer_set.missing}, name="role").to_frame()"""),
    ("md", "## 1. Load and validate the submissions"),
    ("code", """apps = settings.mirror_root / "submissions" / "applications_2025_approx.gpkg"
candidates = submissions.load_submissions([apps], kommuner=layer_set.layers["kommuner"])
submissions.summarise(candidates)"""),
    ("md", "## 2. Exclude, score, rank and select (the same `assess` that `make screen` runs)"),
    ("code", """result = pipeline.assess(candidates, layer_set, criteria, settings=settings, allow_missing=ALLOW_MISSING)
table = result.candidates
table[["application_id", "regionsnavn", "excluded", "net_area_ha", "score_total", "rank", "rank_min",
       "rank_max", "top_k_probability", "selected"]].sort_values("score_total", ascending=False)"""),
    ("md", "### Exclusions: every overlap with its layer, hectares and source"),
    ("code", """result.exclusion.overlaps[["application_id", "rule_id", "action", "overlap_ha", "overlap_share",
                           "features", "decisive"]]"""),
    ("code", """print(table["incomplete"].iloc[0])  # every row says which exclusion layers were missing"""),
    ("md", "### One application's score, criterion by criterion (contributions add up to the total)"),
    ("code", """aid = table.sort_values("score_total", ascending=False)["application_id"].iloc[0]
rows = result.scores.breakdown.query("application_id == @aid")
total = table.set_index("application_id").loc[aid, "score_total"]
assert abs(rows["contribution"].sum() - total) < 1e-6, "contributions must add up to the total"
rows[["group", "criterion", "raw_value", "unit", "score", "weight", "contribution", "method", "nearest"]]"""),
    ("md", """## 3. What if labour counted twice as much?

Change one group weight in the configuration (a copy; `layers/criteria.yaml` is untouched), re-run the
assessment and compare ranks and the proposal."""),
    ("code", """groups = tuple(g.model_copy(update={"weight": g.weight * 2}) if g.id == "labour" else g
               for g in criteria.groups)
labour_heavy = criteria.model_copy(update={"groups": groups})
alt = pipeline.assess(candidates, layer_set, labour_heavy, settings=settings, allow_missing=ALLOW_MISSING)
compare = table.set_index("application_id")[["score_total", "rank", "selected"]].join(
    alt.candidates.set_index("application_id")[["score_total", "rank", "selected"]], rsuffix="_labour_x2")
compare.sort_values("rank_labour_x2")"""),
    ("code", """base_set = set(table.loc[table["selected"].fillna(False).astype(bool), "application_id"])
alt_set = set(alt.candidates.loc[alt.candidates["selected"].fillna(False).astype(bool), "application_id"])
print("in the proposal only with labour x2:", sorted(alt_set - base_set))
print("dropped with labour x2:            ", sorted(base_set - alt_set))"""),
    ("md", """## 4. Re-run only the selection with a wider spacing

The selector is an integer programme solved by HiGHS; the result says whether optimality is proven."""),
    ("code", """wide = criteria.selection.model_copy(update={"spacing_km": 60.0})
sel = selection.select(table, wide, breakdown=result.scores.breakdown, towns=layer_set.layers.get("towns"))
print(sel.summary_text())"""),
    ("code", """# Policy scenarios (layers/scenarios/*.yaml) side by side: exclusion and measurements once, each scenario
# rescores, ranks and selects. `make scenarios` writes the same as reports/<run>/scenarios/scenarios.html.
from screening import scenarios
compared = scenarios.run([apps], settings=settings, catalog=cat, criteria=criteria,
                         scenarios_dir=settings.layers_dir / "scenarios", out_root=None, allow_missing=ALLOW_MISSING)
print(scenarios.summary_text(compared))
compared.comparison.stability[["chosen_in", "stability", "reason"]]"""),
    ("md", "## 5. Back-test: how does the proposal compare with the 2025 designation?"),
    ("code", """result.selection.to_dict().get("backtest")"""),
]


def build(path: Path) -> None:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src)
                for kind, src in CELLS]
    nbf.write(nb, path)


if __name__ == "__main__":
    build(Path(__file__).with_name("screening_walkthrough.ipynb"))
