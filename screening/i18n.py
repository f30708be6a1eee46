"""Languages of what users read: Danish by default, English on request (gettext catalogs managed with Babel).

Source texts (msgids) are English. The Danish catalog is ``screening/locale/da/LC_MESSAGES/messages.po`` in
the repository; it is compiled into memory on first use with Babel's ``.mo`` writer, so an install needs no
build step and a stale ``.mo`` can never be served. ``make translations`` re-extracts the texts from the
Python code and the jinja2 templates (``babel.cfg``) and updates the catalog; a test fails when a text lacks
its Danish translation or the catalog is out of date with the sources.

The language of the current run or request is a context variable: wrap the work in ``with use("en"):``;
`gettext`/`ngettext` and the formatting helpers follow it. Numbers, hectares, percentages and dates are
formatted by Babel for the locale ("1.234,5 ha", "6. december 2026" in Danish; "1,234.5 ha",
"6 December 2026" in English).

Examples
--------
>>> with use("da"):
...     fmt_ha(1234.5)
'1.234,5 ha'
>>> with use("en"):
...     fmt_ha(1234.5)
'1,234.5 ha'
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import gettext as _gettext
import io
import logging
import math
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path

from babel import Locale
from babel.dates import format_date as _format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_percent as _format_percent
from babel.numbers import parse_pattern as _parse_pattern

__all__ = ["LANGUAGES", "DEFAULT", "ENV_VAR", "LOCALE_DIR", "use", "current", "check_lang", "gettext", "ngettext", "N_",
           "translations", "text", "negotiate", "install_jinja", "fmt_number", "fmt_ha", "fmt_percent",
           "fmt_date", "fmt_km", "html_lang"]

log = logging.getLogger(__name__)

LANGUAGES = ("da", "en")
"""Languages pages can be written in; the first is the default."""
DEFAULT = "da"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
_BABEL_LOCALE = {"da": "da_DK", "en": "en_GB"}
ENV_VAR = "INDUSTRIPARK_LANG"
"""Environment variable naming the language used outside a `use` block (default Danish)."""
_current: ContextVar[str | None] = ContextVar("industripark_lang", default=None)


def check_lang(lang: str | None) -> str:
    """`lang` if supported (None: the default); raises ValueError naming the valid choices otherwise."""
    if lang is None:
        return DEFAULT
    lang = str(lang).strip().lower()
    if lang not in LANGUAGES:
        msg = f"language {lang!r} is not supported, must be one of {', '.join(LANGUAGES)}"
        raise ValueError(msg)
    return lang


@contextlib.contextmanager
def use(lang: str | None) -> Iterator[str]:
    """Make `lang` the language of everything translated or formatted inside the block."""
    token = _current.set(check_lang(lang))
    try:
        yield current()
    finally:
        _current.reset(token)


def current() -> str:
    """The language in effect: the innermost `use` block's, else ``$INDUSTRIPARK_LANG``, else Danish."""
    lang = _current.get()
    if lang is not None:
        return lang
    env = os.environ.get(ENV_VAR, "").strip().lower()
    return env if env in LANGUAGES else DEFAULT


@functools.cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of `lang` (English, the source language, needs none)."""
    lang = check_lang(lang)
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == "en" or not po.is_file():
        if lang != "en":
            log.warning("no catalog %s: texts stay English", po)
        return _gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def gettext(message: str, /, **values) -> str:
    """`message` translated into the current language; ``%(name)s`` placeholders filled from `values`."""
    out = translations(current()).gettext(message)
    return out % values if values else out


def N_(message: str) -> str:
    """Mark a text for extraction without translating it now (module constants); translate it where it is
    shown, with ``gettext(value)``."""
    return message


def ngettext(singular: str, plural: str, n: int, /, **values) -> str:
    """Singular or plural form for `n` in the current language; ``%(num)s`` is `n` formatted."""
    out = translations(current()).ngettext(singular, plural, n)
    return out % {"num": fmt_number(n), **values}


def text(value: str | Mapping[str, str] | None) -> str:
    """A text from the YAML files in the current language: ``{da: …, en: …}`` or a plain string."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return value.get(current()) or value.get(DEFAULT) or next(iter(value.values()), "")
    return str(value)


def negotiate(accept_language: str | None, query_lang: str | None = None) -> str:
    """The page language for a request: ``?lang=`` if valid, else the browser's preference, Danish first.

    Danish wins whenever the browser accepts it at all, or names no language we have.

    Examples
    --------
    >>> negotiate("en-US,en;q=0.9")
    'en'
    >>> negotiate("en-US,en;q=0.9,da;q=0.5")
    'da'
    >>> negotiate("de-DE", "en")
    'en'
    """
    if query_lang and query_lang.strip().lower() in LANGUAGES:
        return query_lang.strip().lower()
    wanted = [part.split(";")[0].strip().lower() for part in (accept_language or "").split(",") if part.strip()]
    primary = [w.split("-")[0] for w in wanted]
    if DEFAULT in primary:
        return DEFAULT
    return next((p for p in primary if p in LANGUAGES), DEFAULT)


def install_jinja(env) -> None:
    """Add the i18n extension to a jinja2 environment; ``_()``/``ngettext()`` and the ``num``/``ha``/``pct``/
    ``date``/``km``/``t`` filters then follow the current language (one environment serves both).

    Jinja's new-style gettext fills the placeholders itself (``%(num)s`` is the count unless given, e.g.
    ``ngettext("%(num)s park", "%(num)s parks", n, num=n|localnum)``), so the callables only translate.
    """
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext=lambda s: translations(current()).gettext(s),
                                  ngettext=lambda s, p, n: translations(current()).ngettext(s, p, n),
                                  newstyle=True)
    env.globals["lang"] = current
    env.globals["html_lang"] = html_lang
    env.filters |= {"ha": fmt_ha, "pct": fmt_percent, "date": fmt_date, "km": fmt_km, "t": text,
                    "localnum": fmt_number}


def html_lang() -> str:
    """The ``lang`` attribute of a page in the current language."""
    return current()


def _locale() -> Locale:
    return Locale.parse(_BABEL_LOCALE[current()])


def fmt_number(value, decimals: int = 0) -> str:
    """A number with the locale's grouping and decimal mark (``1.234,5`` / ``1,234.5``); "–" for NaN/None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    locale, pattern = _number_format(current(), decimals)
    return pattern.apply(value, locale)  # what babel's format_decimal does, its locale and pattern parsed once


@functools.cache
def _number_format(lang: str, decimals: int):
    """The Babel locale and parsed number pattern of `fmt_number` (thousands of numbers per page or run)."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return Locale.parse(_BABEL_LOCALE[lang]), _parse_pattern(pattern)


def fmt_ha(value, decimals: int = 1) -> str:
    """Hectares: ``1.234,5 ha``."""
    return f"{fmt_number(value, decimals)} ha"


def fmt_km(value_m, decimals: int = 1) -> str:
    """A distance given in metres, written in kilometres: ``2,1 km``."""
    if value_m is None or (isinstance(value_m, float) and math.isnan(value_m)):
        return "–"
    return f"{fmt_number(value_m / 1000.0, decimals)} km"


def fmt_percent(share, decimals: int = 0) -> str:
    """A 0–1 share as a percentage: ``36 %`` (Danish) / ``36%`` (English)."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "–"
    locale = _locale()
    pattern = locale.percent_formats[None].pattern  # "#,##0 %" in Danish, "#,##0%" in English
    if decimals > 0:
        pattern = pattern.replace("#,##0", "#,##0." + "0" * decimals, 1)
    return _format_percent(share, format=pattern, locale=locale)


def fmt_date(value) -> str:
    """A date (or ISO date/datetime text) in words: ``6. december 2026`` / ``6 December 2026``."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, _dt.datetime):
        value = value.date()
    return _format_date(value, format="long", locale=_locale())
