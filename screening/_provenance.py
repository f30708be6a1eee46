"""A loaded layer's provenance in the current language: where its copy comes from and when.

The catalog stamps every loaded layer (`screening.catalog`): ``attrs["source"]`` and ``attrs["date"]`` are
the English texts, the run's machine record; a mirror copy whose catalog entry gives ``mirror_source`` or
``mirror_date`` in both languages also carries ``attrs["source_text"]`` / ``attrs["date_text"]`` as
``{da, en}``. Everything people read (reasons, cards, banners, the overview's attribution) takes the words
from here.
"""

from __future__ import annotations

from collections.abc import Mapping

from screening import i18n

__all__ = ["source_and_date"]


def source_and_date(attrs: Mapping) -> tuple[str, str]:
    """(source, date) of a layer's ``attrs`` in the current language; empty strings where unknown.

    Examples
    --------
    >>> attrs = {"source": "unofficial KML copy", "source_text": {"da": "uofficiel KML-kopi",
    ...          "en": "unofficial KML copy"}, "date": "about 2013", "date_text": {"da": "omkring 2013",
    ...          "en": "about 2013"}}
    >>> with i18n.use("da"):
    ...     source_and_date(attrs)
    ('uofficiel KML-kopi', 'omkring 2013')
    >>> source_and_date({"source": "Danmarks Miljøportal, CC0 1.0", "date": "2018-10-31"})
    ('Danmarks Miljøportal, CC0 1.0', '2018-10-31')
    """
    source = i18n.text(attrs.get("source_text") or "") or str(attrs.get("source") or "")
    date = i18n.text(attrs.get("date_text") or "") or str(attrs.get("date") or "")
    return source.strip(), date.strip()
