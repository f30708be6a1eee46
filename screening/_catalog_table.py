"""The catalog as the README's data-sources table (``industripark layers sources``).

Re-exported by `screening.catalog`.
"""

from __future__ import annotations

from pathlib import Path

from screening.config import Catalog

__all__ = ["sources_markdown", "update_readme_sources"]


def sources_markdown(catalog: Catalog) -> str:
    """The catalog as a Markdown table: layer, role, official source, licence, mirror copy; in English, the
    language of the README (the catalog's texts in both languages: their ``en``)."""
    rows = ["| layer | role | official source | licence | evidence | offline mirror |",
            "|---|---|---|---|---|---|"]
    for spec in catalog.layers:  # a few dozen catalog entries
        src = spec.source
        where = src.publisher + (f": {src.kind.upper()} `{src.url}`" if src.url else " (no public service known)")
        if src.typename:
            where += f" `{src.typename}`"
        mirror = (f"`{spec.mirror}` ({getattr(spec.mirror_source, 'en', spec.mirror_source)})" if spec.mirror
                  else "not in the mirror")
        if spec.mirror and spec.provisional:  # an unofficial or out-of-date copy (screening._nature_layers)
            date = getattr(spec.mirror_date, "en", spec.mirror_date) or "undated"
            mirror += f"; **provisional copy**, {date}: {spec.provisional_reason.en}"
        if spec.mirror and spec.mirror_coverage:
            mirror += f"; **covers only** {spec.mirror_coverage_note.en}"
        rows.append(f"| `{spec.id}` {spec.title.en} | {spec.role} | {where} | {src.licence} | {src.evidence} | "
                    f"{mirror} |")
    return "\n".join(rows)


def update_readme_sources(readme: Path, catalog: Catalog) -> bool:
    """Rewrite the table between the ``sources:start``/``sources:end`` markers; True when it changed."""
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- sources:start -->", "<!-- sources:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{sources_markdown(catalog)}\n{end}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text
