// The overview map's logic: style from overview.json, layer switches, search, popups and the point report.
// No user-facing text here: every text comes from the page's "ui-text" block (templates/overview/index.html.j2),
// in the page's language; numbers are written for UI.locale (da-DK or en-GB).
// Globals from vendor/: maplibregl, pmtiles, GeoTIFF, proj4. Coordinates: WGS84 on the map, EPSG:25832 for
// the surface cells and distances (as the screening measures them).
import {VectorTile} from '../vendor/vector-tile/index.js';
import {PbfReader} from '../vendor/pbf/index.js';

const UI = JSON.parse(document.getElementById('ui-text').textContent);
const UTM32 = '+proj=utm +zone=32 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs';
const state = {ready: false, report: null, errors: [], map: null};
window.overview = state;

// Start MapLibre's tile worker now: left to the Map, it starts only after the WebGL context exists, and the
// first tiles wait for it (measured: about 0.2 s of the first render in headless Chromium).
maplibregl.prewarm();
const abs = (path) => new URL(path, window.location.href).href;
const protocol = new pmtiles.Protocol();
maplibregl.addProtocol('pmtiles', protocol.tile);
const archives = {};

function archive(path) {
  if (!archives[path]) {
    archives[path] = new pmtiles.PMTiles(abs(path));
    protocol.add(archives[path]);
  }
  return archives[path];
}

async function getJSON(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

const manifest = await getJSON('overview.json');
const drawn = manifest.layers.filter((layer) => layer.status === 'ok');

// ------------------------------------------------------------------ style

function colourOf(layer) {
  if (!layer.categories) return layer.color;
  const match = ['match', ['to-string', ['get', layer.categories.column]]];
  for (const [value, colour] of Object.entries(layer.categories.colors)) match.push(value, colour);
  match.push(layer.color);
  return match;
}

// A '#rrggbb' colour at 80 % brightness (a category expression is left as it is).
function darker(colour) {
  if (typeof colour !== 'string' || !/^#[0-9a-f]{6}$/i.test(colour)) return colour;
  const n = parseInt(colour.slice(1), 16);
  return `rgb(${[(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => Math.round(v * 0.8)).join(', ')})`;
}

// Layers share an archive, and so a map source, per maximum zoom (screening.overview._share_archives).
const sourceOf = (layer) => layer.archive.replace(/^.*\//, '').replace(/\.pmtiles$/, '');

function styleLayers(layer) {
  const base = {source: sourceOf(layer), 'source-layer': layer.id, minzoom: layer.min_zoom,
    layout: {visibility: layer.visible ? 'visible' : 'none'}};
  const colour = colourOf(layer);
  if (layer.kind === 'fill') {
    return [
      // below the zoom of full detail (manifest.full_detail_zoom) the fill's own one-pixel outline (fill-antialias),
      // a shade darker and a little more opaque, keeps small areas visible as specks; a line layer drawing every
      // ring there was the costliest layer of the national view
      {...base, id: layer.id, type: 'fill', paint: {'fill-color': colour, 'fill-outline-color': darker(colour),
        'fill-opacity': ['step', ['zoom'], 0.6, manifest.full_detail_zoom, 0.45]}},
      {...base, id: `${layer.id}--outline`, type: 'line', minzoom: Math.max(layer.min_zoom, manifest.full_detail_zoom),
        paint: {'line-color': colour, 'line-width': 1}},
    ];
  }
  if (layer.kind === 'line') {
    return [{...base, id: layer.id, type: 'line', layout: {...base.layout, 'line-cap': 'round'},
      paint: {'line-color': colour, 'line-width': ['interpolate', ['linear'], ['zoom'], 5, 1.2, 12, 3]}}];
  }
  return [{...base, id: layer.id, type: 'circle', paint: {'circle-color': colour,
    'circle-radius': ['interpolate', ['linear'], ['zoom'], 5, 3, 12, 6],
    'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1}}];
}

function buildStyle() {
  const land = manifest.land;
  const style = {version: 8, sources: {}, layers: [
    {id: 'background', type: 'background', paint: {'background-color': '#dde8f0'}}]};
  style.sources.land = {type: 'vector', url: `pmtiles://${abs(land.archive)}`, attribution: UI.attribution[land.id]};
  archive(land.archive);
  style.layers.push({id: 'land', type: 'fill', source: 'land', 'source-layer': land.id,
    paint: {'fill-color': '#f6f4ee'}});
  if (manifest.surface) {
    archive(manifest.surface.archive);
    style.sources.surface = {type: 'raster', url: `pmtiles://${abs(manifest.surface.archive)}`,
      tileSize: manifest.surface.tile_px,
      attribution: UI.attribution.surface};
    style.layers.push({id: 'surface', type: 'raster', source: 'surface',
      paint: {'raster-opacity': manifest.surface.opacity, 'raster-resampling': 'nearest',
        'raster-fade-duration': 0}});
  }
  style.layers.push({id: 'land--borders', type: 'line', source: 'land', 'source-layer': land.id,
    paint: {'line-color': '#8a8a8a', 'line-width': ['interpolate', ['linear'], ['zoom'], 5, 0.4, 10, 1.2]}});
  const order = {fill: 0, line: 1, circle: 2};
  const sorted = [...drawn].sort((a, b) => (a.group === 'screening') - (b.group === 'screening')
    || order[a.kind] - order[b.kind]);
  for (const layer of sorted) {
    if (!style.sources[sourceOf(layer)]) {
      archive(layer.archive);
      const credits = drawn.filter((other) => other.archive === layer.archive)
        .map((other) => UI.attribution[other.id]);
      style.sources[sourceOf(layer)] = {type: 'vector', url: `pmtiles://${abs(layer.archive)}`,
        attribution: credits.join(' | ')};
    }
    style.layers.push(...styleLayers(layer));
  }
  return style;
}

const [west, south, east, north] = manifest.bounds;
const map = new maplibregl.Map({container: 'map', style: buildStyle(), bounds: [[west, south], [east, north]],
  fitBoundsOptions: {padding: 10}, attributionControl: {compact: true}, maxZoom: 16, hash: true});
state.map = map;
map.addControl(new maplibregl.NavigationControl({showCompass: false}), 'top-right');
map.addControl(new maplibregl.ScaleControl({unit: 'metric'}), 'bottom-left');
map.on('error', (event) => state.errors.push(String(event.error && event.error.message || event.error)));
map.once('load', () => {
  state.loadedAt = performance.now();
  // start with the source list folded (it is long); the (i) button opens it
  const attribution = document.querySelector('.maplibregl-ctrl-attrib');
  if (attribution) attribution.classList.remove('maplibregl-compact-show');
});
map.once('idle', () => { state.ready = true; state.idleAt = performance.now(); });

// ------------------------------------------------------------------ layer switches

for (const box of document.querySelectorAll('input[data-layer]')) {
  box.addEventListener('change', () => {
    const id = box.dataset.layer;
    for (const styleId of [id, `${id}--outline`]) {
      if (map.getLayer(styleId)) map.setLayoutProperty(styleId, 'visibility', box.checked ? 'visible' : 'none');
    }
  });
}

// ------------------------------------------------------------------ search

const kommuner = await getJSON('data/kommuner.json');
const list = document.getElementById('kommune-list');
for (const k of kommuner) list.append(new Option(k.navn));
document.getElementById('search').addEventListener('submit', (event) => {
  event.preventDefault();
  const wanted = document.getElementById('search-input').value.trim().toLocaleLowerCase('da');
  const message = document.getElementById('search-message');
  const found = kommuner.find((k) => k.navn.toLocaleLowerCase('da') === wanted)
    || kommuner.find((k) => k.navn.toLocaleLowerCase('da').startsWith(wanted) && wanted.length > 1);
  message.hidden = Boolean(found);
  message.textContent = found ? '' : UI.search.not_found;
  if (found) map.fitBounds([[found.bbox[0], found.bbox[1]], [found.bbox[2], found.bbox[3]]], {padding: 30});
});

// ------------------------------------------------------------------ point report

const breakdown = manifest.surface ? await getJSON('surface/breakdown.json') : null;
const nearestData = await getJSON('data/nearest.json');
let tiffImage = null;

function tileCoords(lng, lat, z) {
  const n = 2 ** z;
  const wx = (lng + 180) / 360 * n;
  const wy = (1 - Math.asinh(Math.tan(lat * Math.PI / 180)) / Math.PI) / 2 * n;
  const x = Math.floor(wx);
  const y = Math.floor(wy);
  return {x, y, fx: wx - x, fy: wy - y};
}

function insideRings(rings, px, py) {
  // even-odd rule over every ring of the feature (outer rings, holes, parts)
  let inside = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const a = ring[i];
      const b = ring[j];
      if ((a.y > py) !== (b.y > py) && px < (b.x - a.x) * (py - a.y) / (b.y - a.y) + a.x) inside = !inside;
    }
  }
  return inside;
}

async function polygonsAt(entry, layerName, lng, lat) {
  const z = entry.tile_max_zoom;
  const t = tileCoords(lng, lat, z);
  const response = await archive(entry.archive).getZxy(z, t.x, t.y);
  if (!response || !response.data) return [];
  const tile = new VectorTile(new PbfReader(new Uint8Array(response.data)));
  const layer = tile.layers[layerName];
  if (!layer) return [];
  const hits = [];
  for (let i = 0; i < layer.length; i++) {
    const feature = layer.feature(i);
    if (feature.type === 3 && insideRings(feature.loadGeometry(), t.fx * layer.extent, t.fy * layer.extent)) {
      hits.push(feature.properties);
    }
  }
  return hits;
}

async function layersHere(lng, lat) {
  const polygons = drawn.filter((layer) => layer.kind === 'fill' || layer.role === 'land');
  const found = await Promise.all(polygons.map(async (layer) => {
    const props = await polygonsAt(layer, layer.id, lng, lat);
    return props.map((p) => ({id: layer.id, title: layer.title, label: layer.label ? p[layer.label] : '',
      properties: p}));
  }));
  const land = await polygonsAt(manifest.land, manifest.land.id, lng, lat);
  return {layers: found.flat(), kommune: land.length ? land[0][manifest.land.label] : null};
}

async function cellValues(x, y) {
  if (!breakdown) return null;
  const [a, , c, , e, f] = breakdown.transform;
  const col = Math.floor((x - c) / a);
  const row = Math.floor((y - f) / e);
  if (col < 0 || row < 0 || col >= breakdown.width || row >= breakdown.height) return {land: false};
  if (!tiffImage) tiffImage = await (await GeoTIFF.fromUrl(abs(`surface/${breakdown.file}`))).getImage();
  const values = Array.from(await tiffImage.readRasters({window: [col, row, col + 1, row + 1], interleave: true}));
  if (values[0] === breakdown.nodata) return {land: false, col, row};
  const criteria = breakdown.criteria.map((crit) => {
    const raw = values[crit.band - 1];
    const score = raw === breakdown.nodata ? null : raw / breakdown.criterion_scale;
    return {...crit, score, contribution: score === null ? null : score * crit.points};
  });
  const total = values[0] / breakdown.total_scale;
  const summed = criteria.reduce((s, crit) => s + (crit.contribution || 0), 0);
  const bits = values[breakdown.exclusion_band - 1];
  const rules = breakdown.rules.filter((rule) => (bits >> rule.bit) & 1);
  return {land: true, col, row, total, criteria, bonus: Math.max(0, total - summed), bits, rules};
}

function segmentDistance(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2)) : 0;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function nearestInfrastructure(x, y) {
  return nearestData.criteria.map((crit) => {
    let best = {distance_m: Infinity, label: ''};
    for (const [px, py, label] of crit.points) {
      const d = Math.hypot(x - px, y - py);
      if (d < best.distance_m) best = {distance_m: d, label};
    }
    for (const line of crit.lines) {
      const c = line.coords;
      for (let i = 1; i < c.length; i++) {
        const d = segmentDistance(x, y, c[i - 1][0], c[i - 1][1], c[i][0], c[i][1]);
        if (d < best.distance_m) best = {distance_m: d, label: line.label};
      }
    }
    return {id: crit.id, title: crit.title, travel: crit.travel, ...best};
  });
}

const number = (value, digits = 1) => value.toLocaleString(UI.locale, {maximumFractionDigits: digits,
  minimumFractionDigits: digits});
const distance = (m) => (m >= 1000 ? `${number(m / 1000)} ${UI.report.km}` : `${number(m, 0)} ${UI.report.m}`);

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function renderReport(report) {
  const R = UI.report;
  const panel = document.getElementById('report');
  panel.replaceChildren(element('h2', R.title));
  panel.append(element('p', `${R.coordinates}: ${number(report.x, 0)} ${R.east}, ${number(report.y, 0)} ${R.north}`, 'coords'));
  if (report.here.kommune) panel.append(element('p', `${R.kommune}: ${report.here.kommune}`, 'kommune'));
  panel.append(element('h3', R.layers_here));
  if (!report.here.layers.length) panel.append(element('p', R.no_layers));
  const layerList = element('ul', undefined, 'here');
  for (const hit of report.here.layers) {
    const item = element('li');
    item.dataset.layer = hit.id;
    item.append(element('strong', hit.title), document.createTextNode(hit.label ? `: ${hit.label}` : ''));
    layerList.append(item);
  }
  panel.append(layerList);
  panel.append(element('h3', R.score));
  const cell = report.cell;
  if (!cell) panel.append(element('p', R.no_surface));
  else if (!cell.land) panel.append(element('p', R.no_land));
  else {
    const total = element('p', `${R.score_total}: `, 'total');
    total.append(element('strong', `${number(cell.total)} ${R.of_100}`, 'score-total'));
    total.dataset.score = String(cell.total);
    panel.append(total);
    const table = element('table', undefined, 'breakdown');
    const head = element('tr');
    for (const h of [R.criterion, R.band_score, R.contribution]) head.append(element('th', h));
    table.append(head);
    for (const crit of cell.criteria) {
      const row = element('tr');
      row.dataset.criterion = crit.id;
      row.append(element('td', crit.title), element('td', crit.score === null ? '–' : number(crit.score, 2)),
        element('td', crit.contribution === null ? '–' : `${number(crit.contribution)} / ${number(crit.points)}`));
      table.append(row);
    }
    if (cell.bonus >= 0.05) {
      const row = element('tr');
      row.append(element('td', R.bonus), element('td', ''), element('td', number(cell.bonus)));
      table.append(row);
    }
    panel.append(table);
    if (cell.rules.length) {
      panel.append(element('p', `${R.excluded}:`, 'excluded'));
      const rules = element('ul', undefined, 'rules');
      for (const rule of cell.rules) rules.append(element('li', rule.why || rule.id));
      panel.append(rules);
    } else panel.append(element('p', R.free, 'free'));
    const notAssessed = Object.keys(breakdown.not_assessed).map((id) => (breakdown.titles || {})[id] || id);
    if (notAssessed.length) panel.append(element('p', `${R.not_assessed}: ${notAssessed.join(', ')}`, 'note'));
    const missingRules = Object.keys(breakdown.missing_rules);
    if (missingRules.length) panel.append(element('p', `${R.incomplete}: ${missingRules.join(', ')}`, 'warning'));
  }
  panel.append(element('h3', R.nearest));
  const near = element('ul', undefined, 'nearest');
  for (const item of report.nearest) {
    const li = element('li');
    li.dataset.criterion = item.id;
    const where = Number.isFinite(item.distance_m)
      ? `${distance(item.distance_m)}${item.label ? ` (${item.label})` : ''}${item.travel ? ` – ${R.travel_note}` : ''}`
      : R.none_found;
    li.append(element('strong', `${item.title}: `), document.createTextNode(where));
    near.append(li);
  }
  panel.append(near);
  panel.hidden = false;
}

let marker = null;

async function pointReport(lngLat) {
  const panel = document.getElementById('report');
  panel.hidden = false;
  panel.replaceChildren(element('p', UI.report.loading));
  if (!marker) marker = new maplibregl.Marker({color: '#222222'});
  marker.setLngLat(lngLat).addTo(map);
  try {
    const [x, y] = proj4('EPSG:4326', UTM32, [lngLat.lng, lngLat.lat]);
    const [here, cell] = await Promise.all([layersHere(lngLat.lng, lngLat.lat), cellValues(x, y)]);
    state.report = {lng: lngLat.lng, lat: lngLat.lat, x, y, here, cell, nearest: nearestInfrastructure(x, y)};
    renderReport(state.report);
  } catch (error) {
    state.errors.push(String(error));
    panel.replaceChildren(element('p', `${UI.report.failed}: ${error}`, 'warning'));
  }
}

function popup(event) {
  const ids = drawn.map((layer) => layer.id).filter((id) => map.getLayer(id));
  const features = map.queryRenderedFeatures(event.point, {layers: ids});
  if (!features.length) return;
  const byId = Object.fromEntries(drawn.map((layer) => [layer.id, layer]));
  const box = element('div', undefined, 'popup');
  for (const feature of features.slice(0, 4)) {
    const layer = byId[feature.layer.id];
    box.append(element('strong', layer.title));
    const label = layer.label ? feature.properties[layer.label] : '';
    if (label !== undefined && label !== '') box.append(element('div', String(label)));
    const rest = Object.entries(feature.properties).filter(([key]) => key !== layer.label);
    if (rest.length) box.append(element('div', rest.map(([k, v]) => `${k}: ${v}`).join(' · '), 'props'));
  }
  box.append(element('em', UI.popup.more));
  new maplibregl.Popup({maxWidth: '320px'}).setLngLat(event.lngLat).setDOMContent(box).addTo(map);
}

map.on('click', (event) => {
  popup(event);
  pointReport(event.lngLat);
});
