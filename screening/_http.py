"""HTTP for the official sources: a GET retried with exponential backoff on timeouts, 5xx and cut-off
answers; a clear, unretried error on 4xx, refused connections and OGC exception reports."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

__all__ = ["FetchError", "Transient", "RetryPolicy", "session", "get", "brief", "host_of"]

log = logging.getLogger(__name__)

USER_AGENT = "industripark-screening (Danish state screening of industrial park submissions)"
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
T = TypeVar("T")


class FetchError(Exception):
    """An official source could not be reached or answered something unusable (message says which).

    ``transient`` is true when retrying later may help (timeouts, 5xx, cut-off answers after the retries
    ran out); false for 4xx, refused connections and service exception reports.
    """

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class Transient(Exception):  # noqa: N818 (a signal, not an error shown to users)
    """Raised by a `get` parser for an answer worth asking again (cut-off or inconsistent document)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Timeout per request (seconds) and retries: attempt ``i`` waits ``backoff_s * 2**i`` seconds first."""

    timeout_s: float = 60.0
    retries: int = 4
    backoff_s: float = 2.0


def session(pool_size: int = 4) -> requests.Session:
    """A `requests.Session` with a connection pool for `pool_size` parallel requests and our User-Agent."""
    s = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    return s


def get(sess: requests.Session, url: str, params: Mapping[str, Any], *, policy: RetryPolicy, what: str,
        parse: Callable[[requests.Response], T]) -> T:
    """GET `url` and return ``parse(response)``, retrying what may pass.

    Retried (up to ``policy.retries`` times, waits ``backoff_s``, ``2 * backoff_s``, ...): timeouts, HTTP
    408/429/5xx, answers cut off in transfer, and `Transient` raised by `parse`. Not retried: other 4xx,
    refused connections or names that do not resolve, and OGC exception reports (the service said no).

    Raises
    ------
    FetchError
        Naming `what`, the host, the HTTP status or exception text, and whether a retry may help.
    """
    host = host_of(url)
    last = ""
    for attempt in range(policy.retries + 1):
        if attempt:
            wait_s = policy.backoff_s * 2 ** (attempt - 1)
            log.info("%s: retry %d of %d in %.1f s (%s)", what, attempt, policy.retries, wait_s, last)
            time.sleep(wait_s)
        try:
            response = sess.get(url, params=params, timeout=policy.timeout_s)
            status = response.status_code
            if status in RETRY_STATUS:
                last = f"HTTP {status}"
                continue
            if status >= 400:
                detail = ows_exception(response.content) or response.reason or ""
                msg = f"{what}: {host} answered HTTP {status} {detail}".rstrip()
                raise FetchError(msg + " (not retried: fix the request or the catalog entry)")
            detail = ows_exception(response.content[:4000]) if _looks_xml(response) else None
            if detail is not None:
                raise FetchError(f"{what}: {host} answered an OGC exception report: {detail}")
            return parse(response)
        except Transient as exc:
            last = str(exc)
        except (requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            last = brief(exc, url)
        except requests.exceptions.ConnectionError as exc:
            if _refused(exc):
                raise FetchError(f"{what}: {brief(exc, url)}") from None
            last = brief(exc, url)
        except requests.exceptions.RequestException as exc:
            raise FetchError(f"{what}: {brief(exc, url)}") from None
    msg = f"{what}: {last} after {policy.retries} retries with backoff"
    raise FetchError(msg, transient=True)


def brief(exc: Exception, url: str | None) -> str:
    """One short line for a failed request: no network, timeout, HTTP status, or the error's first line."""
    host = host_of(url) if url else url
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ReadTimeout):
        return f"no answer from {host} in time"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"the answer from {host} was cut off in transfer"
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _refused(exc):
            return f"cannot connect to {host}: no network here, or the name does not resolve"
        return f"the connection to {host} broke off"
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"{host} answered HTTP {exc.response.status_code}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:160]}"


def host_of(url: str) -> str:
    """``scheme://host[:port]/path`` -> ``host[:port]`` (the URL itself when it has no scheme)."""
    return url.split("/")[2] if "://" in url else url


_EXCEPTION = re.compile(rb"<(?:\w+:)?(?:ExceptionText|ServiceException)\b[^>]*>(.*?)</", re.S)


def ows_exception(body: bytes) -> str | None:
    """The text of an OGC ``ExceptionReport`` / ``ServiceExceptionReport``; None when `body` is not one."""
    if b"ExceptionReport" not in body[:2000]:
        return None
    match = _EXCEPTION.search(body)
    text = match.group(1).decode("utf-8", "replace") if match else body[:300].decode("utf-8", "replace")
    return " ".join(text.split())[:300]


def _looks_xml(response: requests.Response) -> bool:
    return "xml" in response.headers.get("Content-Type", "") or response.content[:100].lstrip().startswith(b"<")


def _refused(exc: requests.exceptions.ConnectionError) -> bool:
    """True when no connection was made at all (refused, unreachable, name not resolved): not retried."""
    import urllib3

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)
