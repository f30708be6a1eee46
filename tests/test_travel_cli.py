"""``industripark travel FROM TO`` on the real road network (mirror), and its input errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from screening.cli import main


@pytest.mark.mirror
def test_travel_text_names_minutes_km_classes_and_attribution(mirror_root):
    got = CliRunner().invoke(main, ["travel", "10.2039,56.1567", "9.5357,55.7093", "--mirror", str(mirror_root)])
    assert got.exit_code == 0, got.output
    assert got.output.startswith("(10.20390, 56.15670) -> (9.53570, 55.70930)\n")
    assert " min, " in got.output and "motorway " in got.output
    assert got.output.rstrip().endswith("road network, OSM 2023-03-21; © OpenStreetMap contributors")


@pytest.mark.mirror
def test_travel_json_to_bornholm_names_the_ferry(mirror_root):
    got = CliRunner().invoke(main, ["travel", "12.5683,55.6761", "14.6937,55.1009", "--json",
                                    "--mirror", str(mirror_root)])
    assert got.exit_code == 0, got.output
    out = json.loads(got.output)
    assert out["ferries"] == ["Køge - Rønne"]
    assert 300 < out["minutes"] < 540  # 169 km of ferry at 30 km/h + boarding: docs/TRAVEL.md
    classes = {r["road_class"]: r for r in out["road_classes"]}
    assert classes["ferry"]["km"] == pytest.approx(169.1, abs=0.1)
    assert sum(r["minutes"] for r in out["road_classes"]) + 0.0 <= out["minutes"] + 1e-6
    assert out["attribution"] == "© OpenStreetMap contributors" and len(out["route_wgs84"]) > 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["9.85", "9.99,55.78"], "expected 'lon,lat' in WGS84 degrees"),
        (["9.85,55.86", "x,y"], "expected 'lon,lat' in WGS84 degrees"),
        (["955,55.86", "9.99,55.78"], "expected 'lon,lat' in WGS84 degrees"),
    ],
)
def test_travel_bad_points(args, message):
    got = CliRunner().invoke(main, ["travel", *args])
    assert got.exit_code == 2 and message in got.output


@pytest.mark.mirror
def test_travel_point_far_from_the_network(mirror_root):
    got = CliRunner().invoke(main, ["travel", "2.0,50.0", "9.99,55.78", "--mirror", str(mirror_root)])
    assert got.exit_code == 2
    assert "lies more than 60 km from every road node" in got.output
