"""Check the official sources before a screening round (``industripark layers verify``).

For every catalog source of a layer: the service answers; a WFS lists the typename in GetCapabilities,
offers EPSG:25832, has the columns the catalog maps (DescribeFeatureType via OWSLib, or one feature) and
the declared fetch key, and counts the features (``resultType=hits``); an ArcGIS REST layer lists the
fields and counts; a download answers a HEAD request. ``Last-Modified`` is reported where the server
gives it. Nothing is downloaded in full.
"""

from __future__ import annotations

import difflib
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

import requests

from screening import _wfs
from screening._http import FetchError, RetryPolicy, brief, get, host_of, session
from screening.config import Catalog, LayerSpec, Source

__all__ = ["SourceCheck", "verify", "network_available", "failing_exclusions", "table"]

log = logging.getLogger(__name__)

EPSG = 25832


@dataclass
class SourceCheck:
    """What `verify` found for one source of one layer (None: not applicable or not reached)."""

    layer_id: str
    role: str
    source: str
    kind: str
    reachable: bool = False
    typename_ok: bool | None = None
    crs_ok: bool | None = None
    missing: list[str] = field(default_factory=list)
    columns_checked: bool = False
    count: int | None = None
    last_modified: str = ""
    problem: str = ""

    @property
    def ok(self) -> bool:
        """Everything checked passed (reachable, typename, CRS, columns; a WFS also counted)."""
        return (self.reachable and self.typename_ok is not False and self.crs_ok is not False and not self.missing
                and not self.problem and (self.kind != "wfs" or self.count is not None))


def verify(catalog: Catalog, *, layer_ids: Iterable[str] | None = None, timeout_s: float = 30.0
           ) -> list[SourceCheck]:
    """Check every official source (preferred and alternatives) of the given layers (all by default).

    Returns one `SourceCheck` per (layer, source), in catalog order; layers without an official source
    are left out (see `failing_exclusions` for what counts as failing).
    """
    ids = set(layer_ids) if layer_ids else set(catalog.ids)
    policy = RetryPolicy(timeout_s=timeout_s, retries=1, backoff_s=1.0)
    capabilities: dict[str, object] = {}  # url -> OWSLib service or the error text; a few hosts only
    checks = []
    with session(2) as sess:
        for spec in catalog.layers:  # a few dozen catalog layers and their sources
            if spec.id not in ids:
                continue
            for src in (spec.source, *spec.alternatives):
                if src.kind == "none":
                    continue
                check = SourceCheck(spec.id, spec.role, _describe(src), src.kind)
                try:
                    if src.kind == "wfs":
                        _check_wfs(check, spec, src, sess, policy, capabilities)
                    elif src.kind == "rest":
                        _check_rest(check, spec, src, sess, policy)
                    else:
                        _check_download(check, src, sess, timeout_s)
                except FetchError as exc:
                    check.problem = str(exc)
                checks.append(check)
    return checks


def network_available(catalog: Catalog, *, layer_ids: Iterable[str] | None = None) -> bool:
    """True when the name of at least one official source host resolves (no network: none does)."""
    ids = set(layer_ids) if layer_ids else set(catalog.ids)
    hosts = {host_of(s.url).split(":")[0] for spec in catalog.layers if spec.id in ids
             for s in (spec.source, *spec.alternatives) if s.url}
    for host in sorted(hosts):  # a handful of hosts
        try:
            socket.getaddrinfo(host, 443)
            return True
        except (socket.gaierror, OSError, UnicodeError):
            continue
    return False


def failing_exclusions(checks: list[SourceCheck]) -> list[str]:
    """Exclusion layers none of whose sources passed every check."""
    by_layer: dict[str, list[SourceCheck]] = {}
    for check in checks:
        if check.role == "exclude":
            by_layer.setdefault(check.layer_id, []).append(check)
    return [lid for lid, rows in by_layer.items() if not any(r.ok for r in rows)]


def table(checks: list[SourceCheck]) -> list[tuple[str, ...]]:
    """Rows for the terminal: header first, then layer, role, source, reachable, typename, CRS, columns,
    count, last modified."""
    rows = [("layer", "role", "source", "reachable", "typename", f"EPSG:{EPSG}", "columns", "count",
             "last modified")]
    for c in checks:
        columns = ("missing: " + ", ".join(c.missing)) if c.missing else ("ok" if c.columns_checked else "-")
        rows.append((c.layer_id, c.role, c.source, _yes(c.reachable), _yes(c.typename_ok), _yes(c.crs_ok), columns,
                     "" if c.count is None else f"{c.count:,}", c.last_modified))
    return rows


# --------------------------------------------------------------------------- per kind


def _check_wfs(check: SourceCheck, spec: LayerSpec, src: Source, sess, policy, capabilities) -> None:
    service = _capabilities(src.url, policy.timeout_s, capabilities)
    if isinstance(service, str):
        check.problem = service
        return
    check.reachable = True
    contents = list(service.contents)
    check.typename_ok = src.typename in contents
    if not check.typename_ok:
        near = difflib.get_close_matches(src.typename, contents, n=3, cutoff=0.6)
        check.problem = f"typename {src.typename} not in GetCapabilities" + (f" (close: {', '.join(near)})"
                                                                              if near else "")
        return
    offered = service.contents[src.typename].crsOptions or []
    check.crs_ok = any(str(getattr(crs, "code", "")) == str(EPSG) for crs in offered)
    properties = _wfs_properties(src, sess, policy)
    check.columns_checked = True
    check.missing = _missing_columns(spec, properties | {"id"})  # GeoServer's feature id is always there
    key = src.fetch.key if src.fetch.strategy == "paged" else src.fetch.sort_by
    if key and key not in properties:  # sortBy is case-sensitive
        same = [p for p in properties if p.lower() == key.lower()]
        check.missing.append(f"sort key {key}" + (f" (the service says {same[0]})" if same else ""))
    layer = _wfs.Layer(src.url, src.typename, what=f"{spec.id} ({src.typename})", params=src.params, policy=policy)
    params = _wfs.kvp(layer, None) | {"resultType": "hits"}
    check.count, check.last_modified = get(sess, src.url, params, policy=policy, what=layer.what,
                                           parse=lambda r: (_wfs.parse_hits(r), r.headers.get("Last-Modified", "")))


def _check_rest(check: SourceCheck, spec: LayerSpec, src: Source, sess, policy) -> None:
    info = get(sess, src.url, {"f": "json"}, policy=policy, what=spec.id, parse=_json)
    check.reachable = True
    if "error" in info or "fields" not in info:
        check.problem = f"no layer description at {src.url}: {str(info.get('error', info))[:160]}"
        return
    check.columns_checked = True
    check.missing = _missing_columns(spec, {f.get("name", "") for f in info["fields"]})
    answer = get(sess, f"{src.url.rstrip('/')}/query", {"where": "1=1", "returnCountOnly": "true", "f": "json"},
                 policy=policy, what=spec.id, parse=_json)
    check.count = answer.get("count")


def _check_download(check: SourceCheck, src: Source, sess, timeout_s: float) -> None:
    try:
        response = sess.head(src.url, timeout=timeout_s, allow_redirects=True)
    except requests.RequestException as exc:
        check.problem = brief(exc, src.url)
        return
    check.reachable = response.status_code < 400
    check.last_modified = response.headers.get("Last-Modified", "")
    if not check.reachable:
        check.problem = f"{host_of(src.url)} answered HTTP {response.status_code}"


# --------------------------------------------------------------------------- helpers


def _capabilities(url: str, timeout_s: float, cache: dict):
    """OWSLib's WebFeatureService for `url` (GetCapabilities once per URL), or the error as text."""
    if url not in cache:
        from owslib.wfs import WebFeatureService

        try:
            cache[url] = WebFeatureService(url, version="2.0.0", timeout=timeout_s)
        except Exception as exc:  # OWSLib raises requests', XML parser and its own ServiceException errors
            cache[url] = (brief(exc, url) if isinstance(exc, requests.RequestException)
                          else f"GetCapabilities failed at {host_of(url)}: {type(exc).__name__}: {str(exc)[:160]}")
    return cache[url]


def _wfs_properties(src: Source, sess, policy) -> set[str]:
    """Property names from DescribeFeatureType (OWSLib), else from one feature (count=1)."""
    from owslib.feature.schema import get_schema

    try:
        schema = get_schema(src.url, src.typename, version="2.0.0", timeout=policy.timeout_s)
    except Exception as exc:  # noqa: BLE001 (OWSLib/XML errors of every kind: fall back to one feature)
        log.info("DescribeFeatureType of %s failed (%s); reading one feature", src.typename, exc)
        schema = None
    if schema:
        return set(schema.get("properties", {}))
    layer = _wfs.Layer(src.url, src.typename, what=src.typename, params=src.params, policy=policy)
    frame = _wfs.page(sess, layer, limit=1)
    return {c for c in frame.columns if c != "geometry"}


def _missing_columns(spec: LayerSpec, present: set[str]) -> list[str]:
    """Required catalog columns of which neither the name nor an alias is present (case-insensitive)."""
    lower = {p.lower() for p in present}
    return [name for name, col in spec.columns.items()
            if col.required and not any(n.lower() in lower for n in (name, *col.aliases))]


def _describe(src: Source) -> str:
    """``host typename`` for a WFS, ``host file`` for a download or REST layer."""
    where = host_of(src.url or "")
    what = src.typename or src.member or (src.url or "").split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return f"{where} {what}"


def _json(response: requests.Response) -> dict:
    try:
        doc = response.json()
    except ValueError:
        raise FetchError(f"not JSON (begins {response.content[:120]!r})") from None
    return doc if isinstance(doc, dict) else {"error": doc}


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")
