"""``industripark travel FROM TO``: minutes and kilometres between two points over the road network."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from screening._cli_common import context, handle_errors, lang_option, mirror_opt, offline_opt
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _

__all__ = ["travel_cmd", "parse_lonlat", "MESSAGES", "ROAD_CLASSES"]

MESSAGES = {
    "bad_point": N_("expected 'lon,lat' in WGS84 degrees (e.g. 9.85,55.86 for Horsens), got %(value)s"),
    "outside": N_("%(which)s (%(lon)s, %(lat)s) lies more than %(max_km)s km from every road node of the network; "
                  "give a point in Denmark as lon,lat (longitude first)"),
    "no_route": N_("no route from %(a)s to %(b)s on the road network (they lie on parts that no road or ferry in "
                   "the data joins)"),
    "total": N_("%(minutes)s min, %(km)s km on the network (+ access legs %(leg_a)s km and %(leg_b)s km, "
                "straight line x %(detour)s at %(speed)s km/h)"),
    "classes": N_("by road class: %(parts)s"),
    "part": N_("%(cls)s %(minutes)s min / %(km)s km"),
    "ferries": N_("ferries: %(names)s"),
}
"""The command's user-facing lines, in one place (English msgids, translated where shown). Coordinates keep
the command's own notation (``10.20390``, as typed) in every language."""
ROAD_CLASSES = {
    "motorway": N_("motorway"), "motorway_link": N_("motorway_link"), "trunk": N_("trunk"),
    "trunk_link": N_("trunk_link"), "primary": N_("primary"), "primary_link": N_("primary_link"),
    "secondary": N_("secondary"), "secondary_link": N_("secondary_link"), "tertiary": N_("tertiary"),
    "tertiary_link": N_("tertiary_link"), "ferry": N_("ferry"), "harbour connector": N_("harbour connector"),
    "local link": N_("local link"),
}
"""Road classes (OSM ``highway`` values and the network's own edge kinds) as the text output names them; the
English word is the class id, and ``--json`` always gives the id."""


def parse_lonlat(value: str, which: str) -> tuple[float, float]:
    """``"lon,lat"`` -> (lon, lat) floats within WGS84 ranges; `click.BadParameter` for argument `which`
    (in the current language) otherwise."""
    try:
        lon, lat = (float(v) for v in value.replace(" ", "").split(","))
    except ValueError:
        raise click.BadParameter(_(MESSAGES["bad_point"], value=repr(value)), param_hint=which) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise click.BadParameter(_(MESSAGES["bad_point"], value=repr(value)), param_hint=which)
    return lon, lat


@click.command("travel")
@click.argument("origin", metavar="FROM")
@click.argument("destination", metavar="TO")
@click.option("--json", "as_json", is_flag=True, help="Print the route as JSON.")
@mirror_opt
@offline_opt
@lang_option
@handle_errors
def travel_cmd(origin: str, destination: str, as_json: bool, mirror: Path | None, offline: bool) -> None:
    """Minutes, kilometres and road classes from FROM to TO (each 'lon,lat' in WGS84) on the road network.

    The same network, access legs and speeds as the screening (docs/TRAVEL.md), e.g. to check a
    municipality's claim: industripark travel 9.85,55.86 9.99,55.78
    """
    from screening import catalog as catalog_mod
    from screening import routing
    from screening.road_network import ATTRIBUTION, network_for

    origin, destination = parse_lonlat(origin, "FROM"), parse_lonlat(destination, "TO")
    settings, catalog, criteria = context(mirror, offline)
    roads = catalog_mod.load_layer(criteria.travel.road_layer, catalog=catalog, settings=settings)
    net = network_for(roads, criteria.travel)
    places = routing.lonlat_access(net, origin, destination)
    for which, point, acc in (("FROM", origin, places[0]), ("TO", destination, places[1])):  # two points
        if not acc.reachable[0]:
            lon, lat = (format(v, ".5f") for v in point)  # as typed: the command's own notation
            raise click.BadParameter(_(MESSAGES["outside"], which=which, lon=lon, lat=lat,
                                       max_km=fmt_number(criteria.travel.access_snap_max_m / 1000)),
                                     param_hint=which)
    found = routing.route(net, *places)
    a, b = (f"({p[0]:.5f}, {p[1]:.5f})" for p in (origin, destination))
    if found is None:
        raise click.ClickException(_(MESSAGES["no_route"], a=a, b=b))
    out = _as_dict(found, origin, destination, net.label, ATTRIBUTION, criteria.travel)
    click.echo(json.dumps(out, ensure_ascii=False, indent=2) if as_json else _as_text(out, a, b))


def _as_dict(found, origin, destination, label: str, attribution: str, travel) -> dict:
    return {
        "from": {"lon": origin[0], "lat": origin[1]}, "to": {"lon": destination[0], "lat": destination[1]},
        "minutes": round(found.minutes, 2), "network_km": round(found.km, 2),
        "access_legs_km": {"from": round(found.origin_leg_m / 1000, 3), "to": round(found.destination_leg_m / 1000, 3)},
        "access_model": {"detour_factor": travel.access_detour_factor, "speed_kmh": travel.access_speed_kmh},
        "road_classes": [{"road_class": cls, "minutes": round(float(r.minutes), 2), "km": round(float(r.km), 2)}
                         for cls, r in found.by_class.iterrows()],  # a few road classes
        "ferries": list(found.ferries), "network": label, "attribution": attribution,
        "route_wgs84": _wgs84(found.geometry),
    }


def _as_text(out: dict, a: str, b: str) -> str:
    """The route in lines for a person, numbers in the current language."""
    def n(x, decimals=1):
        return fmt_number(x, decimals)

    model = out["access_model"]
    parts = ", ".join(_(MESSAGES["part"], cls=_class_name(r["road_class"]), minutes=n(r["minutes"]), km=n(r["km"]))
                      for r in out["road_classes"])
    lines = [f"{a} -> {b}",
             "  " + _(MESSAGES["total"], minutes=n(out["minutes"]), km=n(out["network_km"]),
                      leg_a=n(out["access_legs_km"]["from"]), leg_b=n(out["access_legs_km"]["to"]),
                      detour=_g(model["detour_factor"]), speed=_g(model["speed_kmh"])),
             "  " + _(MESSAGES["classes"], parts=parts or "-")]
    if out["ferries"]:
        lines.append("  " + _(MESSAGES["ferries"], names=", ".join(out["ferries"])))
    lines.append(f"  {out['network']}; {out['attribution']}")
    return "\n".join(lines)


def _class_name(cls: str) -> str:
    """A road class in the current language (an unknown class as it is)."""
    return _(ROAD_CLASSES[cls]) if cls in ROAD_CLASSES else cls


def _g(x: float) -> str:
    """A model parameter as ``:g`` writes it (1.3, 40), with the current language's decimal mark."""
    return fmt_number(float(x), len(f"{float(x):g}".partition(".")[2]))


def _wgs84(line) -> list:
    """The route's vertices as [lon, lat] pairs (6 decimals), simplified to 10 m for printing."""
    if line is None:
        return []
    import shapely
    from pyproj import Transformer

    xy = shapely.get_coordinates(shapely.simplify(line, 10.0))
    lon, lat = Transformer.from_crs(25832, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
    return np.round(np.column_stack([lon, lat]), 6).tolist()
