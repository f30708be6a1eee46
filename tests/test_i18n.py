"""Languages: the Danish catalog is complete and up to date with the sources; Babel formats per locale."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from screening import i18n

ROOT = Path(__file__).resolve().parents[1]
PO_DA = ROOT / "screening" / "locale" / "da" / "LC_MESSAGES" / "messages.po"


def _catalog():
    with PO_DA.open("rb") as fh:
        return read_po(fh, locale="da")


def _source_msgids() -> set:
    """Extract the texts from the sources now, exactly as `make translations` does (babel.cfg)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / "screening"), method_map, options_map, keywords={
                "_": None, "gettext": None, "ngettext": (1, 2), "N_": None}):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_text_has_a_danish_translation():
    missing = [m.id for m in _catalog() if m.id and not (m.string if isinstance(m.string, str)
                                                         else all(m.string))]
    fuzzy = [m.id for m in _catalog() if m.id and m.fuzzy]
    assert not missing, f"{len(missing)} text(s) lack Danish (run make translations, then translate): {missing[:20]}"
    assert not fuzzy, f"fuzzy entries must be checked and unmarked: {fuzzy[:20]}"


def test_catalog_is_up_to_date_with_the_sources():
    in_catalog = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalog() if m.id}
    in_sources = _source_msgids()
    new, stale = sorted(in_sources - in_catalog), sorted(in_catalog - in_sources)
    assert not new, f"texts not in the Danish catalog (run make translations): {new[:20]}"
    assert not stale, f"catalog entries no longer in the sources (run make translations): {stale[:20]}"


@pytest.mark.parametrize(("lang", "value", "expected"), [
    ("da", 1234.5, "1.234,5 ha"),
    ("en", 1234.5, "1,234.5 ha"),
    ("da", 0.04, "0,0 ha"),
])
def test_hectares(lang, value, expected):
    with i18n.use(lang):
        assert i18n.fmt_ha(value) == expected


@pytest.mark.parametrize(("lang", "expected"), [("da", "6. december 2026"), ("en", "6 December 2026")])
def test_dates_in_words(lang, expected):
    with i18n.use(lang):
        assert i18n.fmt_date(dt.date(2026, 12, 6)) == expected
        assert i18n.fmt_date("2026-12-06T10:00:00+00:00") == expected


@pytest.mark.parametrize(("lang", "decimals", "expected"), [
    ("da", 0, "36\xa0%"), ("da", 1, "36,2\xa0%"), ("en", 0, "36%"), ("en", 1, "36.2%")])
def test_percentages(lang, decimals, expected):
    with i18n.use(lang):
        assert i18n.fmt_percent(0.362, decimals) == expected


def test_missing_values_are_a_dash_not_nan():
    assert i18n.fmt_number(float("nan")) == i18n.fmt_ha(None).split()[0] == "–"


@pytest.mark.parametrize(("header", "query", "expected"), [
    (None, None, "da"),                      # nothing said: Danish
    ("en-US,en;q=0.9", None, "en"),
    ("en-US,en;q=0.9,da;q=0.5", None, "da"),  # Danish first whenever accepted at all
    ("de-DE,fr", None, "da"),                # nothing we have: Danish
    ("da", "en", "en"),                      # ?lang= wins
    ("en", "xx", "en"),                      # an unknown ?lang= is ignored
])
def test_request_language(header, query, expected):
    assert i18n.negotiate(header, query) == expected


def test_unknown_language_names_the_choices():
    with pytest.raises(ValueError, match="must be one of da, en"):
        i18n.check_lang("de")


def test_yaml_texts_follow_the_language():
    value = {"da": "Afstand til nærmeste højspændingsstation", "en": "Distance to nearest HV substation"}
    with i18n.use("en"):
        assert i18n.text(value) == value["en"]
    with i18n.use("da"):
        assert i18n.text(value) == value["da"]
    assert i18n.text("plain") == "plain"


@pytest.mark.parametrize(("env", "expected"), [(None, "da"), ("", "da"), ("en", "en"), ("EN", "en"), ("xx", "da")])
def test_danish_unless_the_environment_says_otherwise(monkeypatch, env, expected):
    if env is None:
        monkeypatch.delenv(i18n.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(i18n.ENV_VAR, env)
    assert i18n.current() == expected


def test_the_language_does_not_leak_out_of_a_block(monkeypatch):
    monkeypatch.delenv(i18n.ENV_VAR, raising=False)
    with i18n.use("en"):
        assert i18n.current() == "en"
        with i18n.use("da"):
            assert i18n.current() == "da"
        assert i18n.current() == "en"
    assert i18n.current() == "da"


@pytest.mark.parametrize(("source", "expected"), [
    ('{{ _("%(a)s of %(b)s", a=1, b=2) }}', "1 of 2"),
    ('{{ ngettext("%(num)s park in %(region)s", "%(num)s parks in %(region)s", 3, region="Nord") }}',
     "3 parks in Nord"),
    ('{{ ngettext("%(num)s park", "%(num)s parks", 1234, num=1234|localnum) }}', "1,234 parks"),
    ('{% trans count=2, region="Syd" %}{{ count }} park in {{ region }}{% pluralize %}{{ count }} parks in '
     '{{ region }}{% endtrans %}', "2 parks in Syd"),
])
def test_templates_fill_any_named_placeholder(source, expected):
    import jinja2

    env = jinja2.Environment(autoescape=True)
    i18n.install_jinja(env)
    with i18n.use("en"):
        assert env.from_string(source).render() == expected


def test_python_placeholders_may_use_any_name():
    with i18n.use("en"):
        assert i18n.gettext("%(message)s and %(n)s", message="m", n=2) == "m and 2"
        assert i18n.ngettext("%(num)s %(singular)s", "%(num)s %(plural)s", 2, singular="x", plural="ys") == "2 ys"
