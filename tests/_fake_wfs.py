"""A small GeoServer-like WFS 2.0 on 127.0.0.1 for the fetch and verify tests (loopback only).

It answers GetCapabilities, DescribeFeatureType, ``resultType=hits`` and GetFeature as GeoJSON, and
behaves like the awkward real thing on request: a server-side maximum per answer (``max_features``),
pages in a different order on every request unless ``sortBy`` is given (or always, ``ignore_sort``),
HTTP 503 / a stalled answer / an answer cut off in transfer on chosen GetFeature requests (``faults``),
503 for every request on chosen bounding boxes (``down_bboxes``: a chunk that fails permanently), and
features that GetFeature silently leaves out while hits still counts them (``lose``). Every request is
logged in ``log`` so tests can see what was asked.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

from shapely.geometry import box, mapping, shape

X0, Y0 = 550_000, 6_200_000  # round EPSG:25832 coordinates (metres) inside Denmark


@dataclass
class FakeLayer:
    """One feature type: GeoJSON features (string ids ``<name>.<n>``), the properties DescribeFeatureType
    lists, and the CRSs the capabilities offer."""

    features: list[dict]
    properties: tuple[str, ...] = ("objekt_id", "navn")
    crs: tuple[str, ...] = ("urn:ogc:def:crs:EPSG::25832", "urn:ogc:def:crs:EPSG::4326")

    def __post_init__(self):
        self.shapes = [shape(f["geometry"]) for f in self.features]


def grid_features(name: str, n: int, *, columns: int = 10, size_m: float = 400.0, step_m: float = 1000.0,
                  **extra) -> list[dict]:
    """`n` squares of `size_m` on a `step_m` grid from (X0, Y0), ids ``<name>.<i>``, properties
    ``objekt_id`` = i and ``navn`` = "site i" (plus `extra` constant properties); EPSG:25832."""
    out = []
    for i in range(n):
        x, y = X0 + (i % columns) * step_m, Y0 + (i // columns) * step_m
        out.append({"type": "Feature", "id": f"{name}.{i}",
                    "properties": {"objekt_id": i, "navn": f"site {i}", **extra},
                    "geometry": mapping(box(x, y, x + size_m, y + size_m))})
    return out


@dataclass
class FakeWFS:
    """The server's data and behaviour; `start` serves it on an ephemeral loopback port."""

    layers: dict[str, FakeLayer]
    max_features: int | None = None
    ignore_sort: bool = False
    faults: dict[int, str] = field(default_factory=dict)  # GetFeature request number (1-based) -> 503|stall|cut
    stall_s: float = 1.5
    down_bboxes: set[tuple[float, ...]] = field(default_factory=set)
    lose: set[str] = field(default_factory=set)
    last_modified: str | None = None
    log: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._n_features = 0
        self._httpd = None

    # ------------------------------------------------------------------ server

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"wfs": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self.url

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/geoserver/ows"

    def getfeature_requests(self, **match) -> list[dict]:
        """Logged GetFeature requests for results (not hits) whose parameters include `match`."""
        return [r for r in self.log if r.get("request") == "getfeature" and r.get("resulttype") != "hits"
                and all(r.get(k) == v for k, v in match.items())]

    # ------------------------------------------------------------------ answers

    def answer(self, q: dict) -> tuple[int, str, bytes, str | None]:
        """(status, content type, body, fault) for the lower-cased query `q`."""
        request = q.get("request", "").lower()
        if request == "getcapabilities":
            return 200, "text/xml", self._capabilities().encode(), None
        name = q.get("typenames") or q.get("typename") or ""
        if name not in self.layers:
            return 400, "text/xml", _exception(f"Feature type {name} unknown"), None
        layer = self.layers[name]
        if request == "describefeaturetype":
            return 200, "text/xml", _schema(name, layer).encode(), None
        if request != "getfeature":
            return 400, "text/xml", _exception(f"unknown request {request}"), None
        idx = list(range(len(layer.features)))
        if "bbox" in q:
            bbox = tuple(float(v) for v in q["bbox"].split(",")[:4])
            if bbox in self.down_bboxes:
                return 503, "text/plain", b"Service Unavailable", None
            area = box(*bbox)
            idx = [i for i in idx if layer.shapes[i].intersects(area)]
        if q.get("resulttype") == "hits":
            body = (f'<?xml version="1.0" encoding="UTF-8"?><wfs:FeatureCollection '
                    f'xmlns:wfs="http://www.opengis.net/wfs/2.0" numberMatched="{len(idx)}" numberReturned="0" '
                    f'timeStamp="2026-12-07T10:00:00Z"/>')
            return 200, "text/xml", body.encode(), None
        with self._lock:
            self._n_features += 1
            number = self._n_features
        fault = self.faults.get(number)
        if fault == "503":
            return 503, "text/plain", b"Service Unavailable", None
        sort = q.get("sortby")
        if sort and not self.ignore_sort:
            prop = sort.split()[0]
            if prop not in layer.properties:
                return 400, "text/xml", _exception(f"Illegal property name: {prop}"), None
            idx.sort(key=lambda i: layer.features[i]["properties"][prop])
        else:
            random.Random(number).shuffle(idx)  # GeoServer without sortBy: no stable order between pages
        matched = len(idx)
        start = int(q.get("startindex", 0))
        limit = int(q["count"]) if "count" in q else matched
        if self.max_features is not None:
            limit = min(limit, self.max_features)
        idx = idx[start:start + limit]
        features = [layer.features[i] for i in idx if layer.features[i]["id"] not in self.lose]
        doc = {"type": "FeatureCollection", "features": features, "totalFeatures": matched,
               "numberMatched": matched, "numberReturned": len(features),
               "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25832"}}}
        return 200, "application/json", json.dumps(doc).encode(), fault

    def _capabilities(self) -> str:
        ops = "".join(f'<ows:Operation name="{op}"><ows:DCP><ows:HTTP><ows:Get xlink:href="{self.url}?"/>'
                      f"</ows:HTTP></ows:DCP></ows:Operation>"
                      for op in ("GetCapabilities", "DescribeFeatureType", "GetFeature"))
        types = "".join(
            f"<wfs:FeatureType><wfs:Name>{name}</wfs:Name><wfs:Title>{name}</wfs:Title>"
            + (f"<wfs:DefaultCRS>{layer.crs[0]}</wfs:DefaultCRS>" if layer.crs else "")
            + "".join(f"<wfs:OtherCRS>{c}</wfs:OtherCRS>" for c in layer.crs[1:])
            + "<ows:WGS84BoundingBox><ows:LowerCorner>8.0 54.5</ows:LowerCorner>"
              "<ows:UpperCorner>15.2 57.8</ows:UpperCorner></ows:WGS84BoundingBox></wfs:FeatureType>"
            for name, layer in self.layers.items())
        return ('<?xml version="1.0" encoding="UTF-8"?><wfs:WFS_Capabilities version="2.0.0" '
                'xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:ows="http://www.opengis.net/ows/1.1" '
                'xmlns:xlink="http://www.w3.org/1999/xlink"><ows:ServiceIdentification><ows:Title>fake</ows:Title>'
                "<ows:ServiceType>WFS</ows:ServiceType><ows:ServiceTypeVersion>2.0.0</ows:ServiceTypeVersion>"
                f"</ows:ServiceIdentification><ows:OperationsMetadata>{ops}</ows:OperationsMetadata>"
                f"<wfs:FeatureTypeList>{types}</wfs:FeatureTypeList></wfs:WFS_Capabilities>")


def _schema(name: str, layer: FakeLayer) -> str:
    local = name.split(":")[-1]
    elements = "".join(f'<xsd:element maxOccurs="1" minOccurs="0" name="{p}" nillable="true" type="xsd:string"/>'
                       for p in layer.properties)
    return ('<?xml version="1.0" encoding="UTF-8"?><xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:t="http://fake" targetNamespace="http://fake" '
            'elementFormDefault="qualified">'
            f'<xsd:complexType name="{local}Type"><xsd:complexContent><xsd:extension base="gml:AbstractFeatureType">'
            f'<xsd:sequence>{elements}<xsd:element maxOccurs="1" minOccurs="0" name="geometri" nillable="true" '
            'type="gml:MultiSurfacePropertyType"/></xsd:sequence></xsd:extension></xsd:complexContent>'
            f'</xsd:complexType><xsd:element name="{local}" substitutionGroup="gml:AbstractFeature" '
            f'type="t:{local}Type"/></xsd:schema>')


def _exception(text: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" '
            f'version="2.0.0"><ows:Exception exceptionCode="InvalidParameterValue"><ows:ExceptionText>{text}'
            "</ows:ExceptionText></ows:Exception></ows:ExceptionReport>").encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (stall test): not an error
        pass


class _Handler(BaseHTTPRequestHandler):
    wfs: FakeWFS

    def do_GET(self):  # noqa: N802 (http.server API)
        url = urlparse(self.path)
        q = {k.lower(): v for k, v in parse_qsl(url.query)}
        q["request"] = q.get("request", "").lower()
        with self.wfs._lock:
            self.wfs.log.append(dict(q))
        status, ctype, body, fault = self.wfs.answer(q)
        if fault == "stall":
            time.sleep(self.wfs.stall_s)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.wfs.last_modified:
            self.send_header("Last-Modified", self.wfs.last_modified)
        self.end_headers()
        if fault == "cut":
            self.wfs_write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfs_write(body)

    def do_HEAD(self):  # noqa: N802 (http.server API)
        self.send_response(200)
        if self.wfs.last_modified:
            self.send_header("Last-Modified", self.wfs.last_modified)
        self.end_headers()

    def wfs_write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass
