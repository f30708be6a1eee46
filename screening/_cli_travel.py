"""``industripark travel FROM TO``: minutes and kilometres between two points over the road network."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from screening._cli_common import context, handle_errors, mirror_opt, offline_opt

__all__ = ["travel_cmd", "parse_lonlat", "MESSAGES"]

MESSAGES = {
    "bad_point": "expected 'lon,lat' in WGS84 degrees (e.g. 9.85,55.86 for Horsens), got {value!r}",
    "outside": ("{which} ({lon:.5f}, {lat:.5f}) lies more than {max_km:,.0f} km from every road node of the "
                "network; give a point in Denmark as lon,lat (longitude first)"),
    "no_route": ("no route from {a} to {b} on the road network (they lie on parts that no road or ferry in the "
                 "data joins)"),
    "head": "{a} -> {b}",
    "total": "  {minutes:.1f} min, {km:.1f} km on the network (+ access legs {leg_a:.1f} km and {leg_b:.1f} km, "
             "straight line x {detour:g} at {speed:g} km/h)",
    "classes": "  by road class: {parts}",
    "part": "{cls} {minutes:.1f} min / {km:.1f} km",
    "ferries": "  ferries: {names}",
    "source": "  {network}; {attribution}",
}
"""The command's user-facing lines, in one place for translation."""


def parse_lonlat(ctx, param, value: str) -> tuple[float, float]:
    """Click callback: ``"lon,lat"`` -> (lon, lat) floats within WGS84 ranges."""
    try:
        lon, lat = (float(v) for v in value.replace(" ", "").split(","))
    except ValueError:
        raise click.BadParameter(MESSAGES["bad_point"].format(value=value)) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise click.BadParameter(MESSAGES["bad_point"].format(value=value))
    return lon, lat


@click.command("travel")
@click.argument("origin", metavar="FROM", callback=parse_lonlat)
@click.argument("destination", metavar="TO", callback=parse_lonlat)
@click.option("--json", "as_json", is_flag=True, help="Print the route as JSON.")
@mirror_opt
@offline_opt
@handle_errors
def travel_cmd(origin, destination, as_json: bool, mirror: Path | None, offline: bool) -> None:
    """Minutes, kilometres and road classes from FROM to TO (each 'lon,lat' in WGS84) on the road network.

    The same network, access legs and speeds as the screening (docs/TRAVEL.md), e.g. to check a
    municipality's claim: industripark travel 9.85,55.86 9.99,55.78
    """
    from screening import catalog as catalog_mod
    from screening import routing
    from screening.road_network import ATTRIBUTION, network_for

    settings, catalog, criteria = context(mirror, offline)
    roads = catalog_mod.load_layer(criteria.travel.road_layer, catalog=catalog, settings=settings)
    net = network_for(roads, criteria.travel)
    places = routing.lonlat_access(net, origin, destination)
    for which, point, acc in (("FROM", origin, places[0]), ("TO", destination, places[1])):  # two points
        if not acc.reachable[0]:
            raise click.BadParameter(MESSAGES["outside"].format(
                which=which, lon=point[0], lat=point[1], max_km=criteria.travel.access_snap_max_m / 1000),
                param_hint=which)
    found = routing.route(net, *places)
    a, b = (f"({p[0]:.5f}, {p[1]:.5f})" for p in (origin, destination))
    if found is None:
        raise click.ClickException(MESSAGES["no_route"].format(a=a, b=b))
    out = _as_dict(found, origin, destination, net.label, ATTRIBUTION, criteria.travel)
    click.echo(json.dumps(out, ensure_ascii=False, indent=2) if as_json else _as_text(out, a, b))


def _as_dict(found, origin, destination, label: str, attribution: str, travel) -> dict:
    return {
        "from": {"lon": origin[0], "lat": origin[1]}, "to": {"lon": destination[0], "lat": destination[1]},
        "minutes": round(found.minutes, 2), "network_km": round(found.km, 2),
        "access_legs_km": {"from": round(found.origin_leg_m / 1000, 3), "to": round(found.destination_leg_m / 1000, 3)},
        "access_model": {"detour_factor": travel.access_detour_factor, "speed_kmh": travel.access_speed_kmh},
        "road_classes": [{"road_class": cls, "minutes": round(float(r.minutes), 2), "km": round(float(r.km), 2)}
                         for cls, r in found.by_class.iterrows()],
        "ferries": list(found.ferries), "network": label, "attribution": attribution,
        "route_wgs84": _wgs84(found.geometry),
    }


def _as_text(out: dict, a: str, b: str) -> str:
    parts = ", ".join(MESSAGES["part"].format(cls=r["road_class"], minutes=r["minutes"], km=r["km"])
                      for r in out["road_classes"])
    lines = [MESSAGES["head"].format(a=a, b=b),
             MESSAGES["total"].format(minutes=out["minutes"], km=out["network_km"], leg_a=out["access_legs_km"]["from"],
                                      leg_b=out["access_legs_km"]["to"], detour=out["access_model"]["detour_factor"],
                                      speed=out["access_model"]["speed_kmh"]),
             MESSAGES["classes"].format(parts=parts or "-")]
    if out["ferries"]:
        lines.append(MESSAGES["ferries"].format(names=", ".join(out["ferries"])))
    lines.append(MESSAGES["source"].format(network=out["network"], attribution=out["attribution"]))
    return "\n".join(lines)


def _wgs84(line) -> list:
    """The route's vertices as [lon, lat] pairs (6 decimals), simplified to 10 m for printing."""
    if line is None:
        return []
    import shapely
    from pyproj import Transformer

    xy = shapely.get_coordinates(shapely.simplify(line, 10.0))
    lon, lat = Transformer.from_crs(25832, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
    return np.round(np.column_stack([lon, lat]), 6).tolist()
