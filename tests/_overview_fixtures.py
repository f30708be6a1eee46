"""Fixtures of the overview tests: a mirror with small Plandata layers in the official schemas, a screening run.

The real mirror (../shared/dk-layers) lacks the Plandata layers; `plandata_mirror` links its theme folders
into a temporary mirror root and adds ``planning/kommuneplanrammer.gpkg`` and ``planning/lokalplaner.gpkg``
with the columns Plandata's WFS serves (``planid``, ``komnr``, ``plannavn``, ``anvgen``, ``anvendelsegenerel``,
``status``, ``datovedt``, ``doklink``; lokalplaner ``plannr``), on round EPSG:25832 coordinates near Vejle.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import box

X0, Y0 = 540_000, 6_176_000  # round EPSG:25832 metres west of Vejle, on land
RAMMER = [  # planid, plannavn, anvgen: two erhverv frames and one mixed one the overview filters out
    ("1001", "Erhvervsområde Vest", 31, "Erhvervsområde"),
    ("1002", "Blandet bolig og erhverv", 21, "Blandet bolig og erhverv"),
    ("1003", "Erhvervsområde Nord", 31, "Erhvervsområde"),
]


def rammer() -> gpd.GeoDataFrame:
    """Three 500 m squares 1 km apart (x = X0, X0 + 1 km, X0 + 2 km), EPSG:25832, Plandata columns."""
    return gpd.GeoDataFrame(
        {"planid": [r[0] for r in RAMMER], "komnr": [630] * 3, "plannavn": [r[1] for r in RAMMER],
         "anvgen": [r[2] for r in RAMMER], "anvendelsegenerel": [r[3] for r in RAMMER],
         "status": ["V"] * 3, "datovedt": ["2021-05-01"] * 3, "doklink": ["https://dokument.plandata.dk/x.pdf"] * 3},
        geometry=[box(X0 + i * 1_000, Y0, X0 + i * 1_000 + 500, Y0 + 500) for i in range(3)], crs=25832)


def lokalplaner() -> gpd.GeoDataFrame:
    """Two adopted local plans: 300 m squares inside the first and third frame, EPSG:25832."""
    return gpd.GeoDataFrame(
        {"planid": ["2001", "2002"], "plannr": ["1.23", "1.24"], "plannavn": ["Lokalplan Vest", "Lokalplan Nord"],
         "komnr": [630, 630], "status": ["V", "V"], "datovedt": ["2022-01-10", "2023-03-02"]},
        geometry=[box(X0 + 100, Y0 + 100, X0 + 400, Y0 + 400), box(X0 + 2_100, Y0 + 100, X0 + 2_400, Y0 + 400)],
        crs=25832)


def plandata_mirror(real_root: Path, tmp: Path) -> Path:
    """A mirror root: the real mirror's theme folders linked, plus ``planning/`` with the two fixtures."""
    root = tmp / "mirror"
    root.mkdir()
    for theme in Path(real_root).iterdir():
        if theme.is_dir() and not theme.name.startswith((".", "_")):
            (root / theme.name).symlink_to(theme.resolve(), target_is_directory=True)
    (root / "planning").mkdir()
    rammer().to_file(root / "planning" / "kommuneplanrammer.gpkg", layer="kommuneplanrammer", engine="pyogrio")
    lokalplaner().to_file(root / "planning" / "lokalplaner.gpkg", layer="lokalplaner", engine="pyogrio")
    return root


def screening_run(tmp: Path) -> Path:
    """A run folder with ``screening.gpkg`` (layer candidates): one proposed, one eligible, one excluded site."""
    run = tmp / "run"
    run.mkdir()
    gdf = gpd.GeoDataFrame(
        {"application_id": ["A1", "A2", "A3"], "site_name": ["Park Vest", "Park Midt", "Park Øst"],
         "kommunenavn": ["Vejle"] * 3, "score_total": [71.5, 55.0, 40.25], "selected": [True, False, False],
         "excluded": [False, False, True], "exclusion_reasons": ["", "", "Natura 2000"]},
        geometry=[box(X0 + i * 1_000, Y0 - 2_000, X0 + i * 1_000 + 800, Y0 - 1_200) for i in range(3)], crs=25832)
    gdf.to_file(run / "screening.gpkg", layer="candidates", engine="pyogrio")
    return run
