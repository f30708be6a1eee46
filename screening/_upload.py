"""An uploaded submission file, made safe to read: extension and content checks, guarded zip extraction.

Nothing the user sends is used as a path: the file is written under a server-chosen name inside a
folder the caller owns (a ``tempfile.TemporaryDirectory``), and a zip archive is unpacked only after
every member name, type and size has been checked, with the bytes counted while they are written.
Every message a refused upload gets is in `TEXTS` (English source texts, translated into the current language
where used).
"""

from __future__ import annotations

import logging
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from screening.errors import SubmissionError
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _
from screening.submissions import Problem

__all__ = ["ALLOWED_EXTENSIONS", "UploadLimits", "store_upload", "safe_extract", "display_name"]

log = logging.getLogger(__name__)

ALLOWED_EXTENSIONS = (".geojson", ".json", ".gpkg", ".zip", ".parquet")
"""Upload types: GeoJSON, GeoPackage, zipped Shapefile, GeoParquet."""

_DATA_IN_ZIP = (".shp", ".geojson", ".json", ".gpkg")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_EMPTY = b"PK\x05\x06"
_PARQUET_MAGIC = b"PAR1"
_CHUNK = 1 << 16
TEXTS = {
    "type": N_("files of type '%(ext)s' are not accepted"),
    "type_fix": N_("upload GeoJSON (.geojson or .json), a GeoPackage (.gpkg), a zipped Shapefile (.zip) or "
                   "GeoParquet (.parquet)"),
    "no_type": N_("(none)"),
    "empty": N_("the file is empty"),
    "export_again": N_("export the submission again and upload the saved file"),
    "one_data_file": N_("the archive must hold exactly one data file (.shp with its .dbf/.shx/.prj, or one "
                        ".geojson/.gpkg); found %(n)s: %(names)s"),
    "none": N_("none"),
    "one_data_file_fix": N_("zip one Shapefile (all its parts) per upload"),
    "not_zip": N_("the file is not a readable zip archive"),
    "rezip": N_("zip the Shapefile again and upload that zip"),
    "damaged_zip": N_("the zip archive is damaged (%(error)s)"),
    "empty_zip": N_("the zip archive is empty"),
    "empty_zip_fix": N_("zip the Shapefile's .shp, .shx, .dbf and .prj"),
    "geojson": N_("GeoJSON (a JSON object starting with '{')"),
    "gpkg": N_("GeoPackage (SQLite database)"),
    "zip": N_("zip archive"),
    "parquet": N_("GeoParquet file"),
    "content": N_("the file is named '%(ext)s' but its content is not a %(what)s; it may be corrupt or renamed"),
    "content_fix": N_("export the submission again from your GIS and upload that file"),
    "members": N_("the archive holds %(n)s files; at most %(limit)s are accepted"),
    "members_fix": N_("zip only the Shapefile's parts (.shp, .shx, .dbf, .prj, .cpg)"),
    "unpacked": N_("the archive unpacks to %(mb)s MB; at most %(limit)s MB are accepted (an archive bomb?)"),
    "unpacked_more": N_("the archive unpacks to more than %(limit)s MB (an archive bomb?)"),
    "unpacked_fix": N_("upload the Shapefile of the sites only"),
    "link": N_("the archive member '%(member)s' is a symbolic link"),
    "link_fix": N_("zip the files themselves, not links to them"),
    "encrypted": N_("the archive member '%(member)s' is encrypted"),
    "encrypted_fix": N_("zip it without a password"),
    "ratio": N_("the archive member '%(member)s' is compressed %(ratio)s times (an archive bomb?)"),
    "ratio_fix": N_("upload an ordinary zip of the Shapefile"),
    "outside": N_("the archive member '%(member)s' points outside the archive's folder"),
    "outside_fix": N_("zip the files without folder paths that go upwards ('..')"),
    "unsafe": N_("the archive member '%(member)s' has an unsafe path (absolute or with '..')"),
    "unsafe_fix": N_("zip the files without folder paths"),
}
"""Every message and fix of a refused upload (English source texts with named placeholders)."""


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on an uploaded zip archive: members, bytes once unpacked, compression ratio per member.

    ``ratio_min_bytes``: the ratio is only checked for members larger than this once unpacked (small
    files of spaces compress very well and are harmless).
    """

    max_members: int = 50
    max_unpacked_bytes: int = 200 * 1024 * 1024
    max_ratio: float = 100.0
    ratio_min_bytes: int = 1024 * 1024


def store_upload(data: bytes, filename: str, workdir: Path, *, limits: UploadLimits = UploadLimits()) -> Path:
    """Check an upload and write it into `workdir` under a server-chosen name; return the file to read.

    Parameters
    ----------
    data
        The uploaded bytes (the request size limit has already bounded them).
    filename
        The name the browser sent; used only for its extension and in messages, never as a path.
    workdir
        An empty folder owned by the caller, deleted by it after the response.

    Returns
    -------
    pathlib.Path
        ``workdir/upload.<ext>``, or for a zip the one data file (.shp, .geojson, .gpkg) unpacked under
        ``workdir/unzipped/``.

    Raises
    ------
    SubmissionError
        With one problem of the ``file`` field: empty file, extension not allowed, content not matching the
        extension, unsafe or oversized archive, or an archive without exactly one data file.
    """
    shown = display_name(filename)
    ext = PurePosixPath(shown.lower()).suffix
    if ext not in ALLOWED_EXTENSIONS:
        _reject(shown, _(TEXTS["type"], ext=ext or _(TEXTS["no_type"])), _(TEXTS["type_fix"]))
    if not data.strip():
        _reject(shown, _(TEXTS["empty"]), _(TEXTS["export_again"]))
    _sniff(data, ext, shown)
    path = Path(workdir) / f"upload{ext}"
    path.write_bytes(data)
    if ext != ".zip":
        return path
    members = safe_extract(path, Path(workdir) / "unzipped", limits=limits, shown=shown)
    found = [m for m in members if m.suffix.lower() in _DATA_IN_ZIP]
    if len(found) != 1:
        names = ", ".join(m.name for m in found) or _(TEXTS["none"])
        _reject(shown, _(TEXTS["one_data_file"], n=len(found), names=names), _(TEXTS["one_data_file_fix"]))
    return found[0]


def safe_extract(archive: Path, dest: Path, *, limits: UploadLimits = UploadLimits(),
                 shown: str = "archive") -> list[Path]:
    """Unpack a zip archive into `dest`, refusing anything that could escape it or exhaust the disk.

    Refused: absolute paths and drive letters, ``..`` components, symbolic links, encrypted members,
    more than ``limits.max_members`` members, more than ``limits.max_unpacked_bytes`` in all (counted
    while writing, not trusted from the headers), and members compressed more than ``limits.max_ratio``
    times (an archive bomb).

    Returns
    -------
    list of pathlib.Path
        The unpacked files, all inside `dest`.

    Raises
    ------
    SubmissionError
        With one problem naming the refused member and the fix.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    root = dest.resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        _reject(shown, _(TEXTS["not_zip"]), _(TEXTS["rezip"]))
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        _check_members(infos, limits, shown)
        try:
            out, written = _extract(zf, infos, root, limits, shown)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            _reject(shown, _(TEXTS["damaged_zip"], error=exc), _(TEXTS["rezip"]))
    log.debug("unpacked %d member(s), %d bytes", len(out), written)
    return out


def display_name(filename: str | None) -> str:
    """The last component of the browser's file name, for messages only (at most 120 characters)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return (name or "upload")[:120]


# --------------------------------------------------------------------------- helpers


def _reject(shown: str, message: str, fix: str):
    raise SubmissionError([Problem(shown, None, None, "file", message, fix)])


def _sniff(data: bytes, ext: str, shown: str) -> None:
    """Refuse content that does not match the extension (magic bytes / first character)."""
    head = data[:64]
    if ext in (".geojson", ".json"):
        ok = head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
        what = TEXTS["geojson"]
    elif ext == ".gpkg":
        ok, what = head.startswith(_SQLITE_MAGIC), TEXTS["gpkg"]
    elif ext == ".zip":
        if head.startswith(_ZIP_EMPTY):
            _reject(shown, _(TEXTS["empty_zip"]), _(TEXTS["empty_zip_fix"]))
        ok, what = head.startswith(_ZIP_MAGIC), TEXTS["zip"]
    else:
        ok, what = head.startswith(_PARQUET_MAGIC) and data.endswith(_PARQUET_MAGIC), TEXTS["parquet"]
    if not ok:
        _reject(shown, _(TEXTS["content"], ext=ext, what=_(what)), _(TEXTS["content_fix"]))


def _check_members(infos: list[zipfile.ZipInfo], limits: UploadLimits, shown: str) -> None:
    if len(infos) > limits.max_members:
        _reject(shown, _(TEXTS["members"], n=fmt_number(len(infos)), limit=fmt_number(limits.max_members)),
                _(TEXTS["members_fix"]))
    total = sum(i.file_size for i in infos)
    if total > limits.max_unpacked_bytes:
        _reject(shown, _(TEXTS["unpacked"], mb=fmt_number(total / 2**20),
                         limit=fmt_number(limits.max_unpacked_bytes // 2**20)), _(TEXTS["unpacked_fix"]))
    for info in infos:  # members of one small archive
        _member_path(info.filename, shown)
        if stat.S_ISLNK(info.external_attr >> 16):
            _reject(shown, _(TEXTS["link"], member=info.filename), _(TEXTS["link_fix"]))
        if info.flag_bits & 0x1:
            _reject(shown, _(TEXTS["encrypted"], member=info.filename), _(TEXTS["encrypted_fix"]))
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_min_bytes and ratio > limits.max_ratio:
            _reject(shown, _(TEXTS["ratio"], member=info.filename, ratio=fmt_number(ratio)), _(TEXTS["ratio_fix"]))


def _extract(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], root: Path, limits: UploadLimits,
             shown: str) -> tuple[list[Path], int]:
    """Write the checked members under `root`, counting the bytes as they are written."""
    written, out = 0, []
    for info in infos:  # members of one small archive, already bounded in number
        target = (root / _member_path(info.filename, shown)).resolve()
        if not target.is_relative_to(root):
            _reject(shown, _(TEXTS["outside"], member=info.filename), _(TEXTS["outside_fix"]))
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, target.open("wb") as dst:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > limits.max_unpacked_bytes:
                    _reject(shown, _(TEXTS["unpacked_more"], limit=fmt_number(limits.max_unpacked_bytes // 2**20)),
                            _(TEXTS["unpacked_fix"]))
                dst.write(chunk)
        out.append(target)
    return out, written


def _member_path(name: str, shown: str) -> PurePosixPath:
    """A member name as a relative path; absolute names, drive letters and '..' are refused."""
    norm = name.replace("\\", "/")
    path = PurePosixPath(norm)
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in path.parts:
        _reject(shown, _(TEXTS["unsafe"], member=name), _(TEXTS["unsafe_fix"]))
    return path
