"""The overview site's files besides the tiles: the browser libraries, the page's script and style, ``index.html``.

Internal to `screening.overview`. The JavaScript libraries (MapLibre GL JS, pmtiles, geotiff.js, proj4,
@mapbox/vector-tile with pbf and point-geometry) come from the npm registry through the project's
``package.json`` and ``package-lock.json``, installed with ``npm ci`` into ``node_modules/`` and copied into
``<site>/vendor/`` so the page works offline: no CDN, no basemap from the internet.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

from screening.config import PROJECT_ROOT
from screening.errors import OutputError

__all__ = ["VENDOR_FILES", "ensure_node_modules", "copy_assets", "render_index"]

log = logging.getLogger(__name__)

VENDOR_FILES = {
    # package: (files under node_modules/<package>/ -> vendor/<folder>/)
    "maplibre-gl": ("maplibre-gl", ("dist/maplibre-gl.js", "dist/maplibre-gl.css")),
    "pmtiles": ("pmtiles", ("dist/pmtiles.js",)),
    "geotiff": ("geotiff", ("dist-browser/geotiff.js",)),
    "proj4": ("proj4", ("dist/proj4.js",)),
    "@mapbox/vector-tile": ("vector-tile", ("index.js",)),
    "@mapbox/point-geometry": ("point-geometry", ("index.js",)),
    "pbf": ("pbf", ("index.js",)),
}
"""Every file the page loads from npm packages (each package's LICENSE* files are copied beside them)."""
STATIC = Path(__file__).with_name("static") / "overview"
TEMPLATES = Path(__file__).with_name("templates") / "overview"


def ensure_node_modules(project_root: Path = PROJECT_ROOT) -> Path:
    """The project's ``node_modules`` folder, installed with ``npm ci`` when absent or older than the lockfile.

    Raises
    ------
    OutputError
        When the packages are absent and ``npm`` is not installed or ``npm ci`` fails; the message says
        how to install them.
    """
    modules = Path(project_root) / "node_modules"
    lock = Path(project_root) / "package-lock.json"
    stamp = modules / ".package-lock.json"
    if stamp.exists() and (not lock.exists() or stamp.stat().st_mtime >= lock.stat().st_mtime - 1):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        msg = (f"{modules}: the map's JavaScript libraries are not installed and npm was not found; install "
               f"Node.js 20 with npm, then run 'npm ci' in {project_root}")
        raise OutputError(msg)
    log.info("installing the map's JavaScript libraries: npm ci in %s", project_root)
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=project_root, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        msg = f"'npm ci' failed in {project_root} (exit {done.returncode}): {done.stderr.strip()[-500:]}"
        raise OutputError(msg)
    return modules


def copy_assets(site_dir: Path, *, node_modules: Path | None = None) -> dict[str, str]:
    """Copy the libraries into ``<site>/vendor/`` and the page's script and style into ``<site>/static/``.

    Returns the version of each package (also written to ``vendor/versions.json``).

    Raises
    ------
    OutputError
        When a library file is missing from `node_modules` (run ``npm ci``).
    """
    modules = Path(node_modules) if node_modules is not None else ensure_node_modules()
    vendor = Path(site_dir) / "vendor"
    versions = {}
    for package, (folder, files) in VENDOR_FILES.items():  # seven packages
        src = modules / package
        meta = src / "package.json"
        if not meta.exists():
            raise OutputError(f"{src}: package {package} is not installed; run 'npm ci' in {PROJECT_ROOT}")
        versions[package] = json.loads(meta.read_text(encoding="utf-8"))["version"]
        (vendor / folder).mkdir(parents=True, exist_ok=True)
        for name in files:
            if not (src / name).exists():
                raise OutputError(f"{src / name}: missing from package {package}; run 'npm ci' in {PROJECT_ROOT}")
            shutil.copy2(src / name, vendor / folder / Path(name).name)
        for licence in src.glob("LICENSE*"):
            shutil.copy2(licence, vendor / folder / licence.name)
    (vendor / "versions.json").write_text(json.dumps(versions, indent=2), encoding="utf-8")
    static = Path(site_dir) / "static"
    static.mkdir(parents=True, exist_ok=True)
    for path in STATIC.iterdir():
        if path.is_file():
            shutil.copy2(path, static / path.name)
    return versions


def render_index(site_dir: Path, config, manifest: dict) -> Path:
    """Render ``index.html`` from ``templates/overview/index.html.j2`` (every UI text lives in the template) in
    the current language (`screening.i18n`)."""
    import jinja2

    from screening import i18n

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),  # .j2 too: escaped (issue 11, H3)
                             autoescape=jinja2.select_autoescape(("html", "htm", "xml", "j2")),
                             keep_trailing_newline=True)
    i18n.install_jinja(env)
    html = env.get_template("index.html.j2").render(config=config, manifest=manifest)
    out = Path(site_dir) / "index.html"
    out.write_text(html, encoding="utf-8")
    return out
