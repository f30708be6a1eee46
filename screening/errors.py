"""Exceptions of the screening pipeline: each names the file, layer or feature, the bad value and the fix."""

from __future__ import annotations

__all__ = [
    "ScreeningError",
    "ConfigError",
    "CRSError",
    "LayerUnavailableError",
    "LayerDataError",
    "LayerDamagedError",
    "OutputError",
    "SubmissionError",
    "LayerFileError",
    "SelectionError",
]


class ScreeningError(Exception):
    """Base class: the CLI turns any of these into one clear message and a non-zero exit."""

    exit_code = 1


class ConfigError(ScreeningError, ValueError):
    """A YAML file under ``layers/`` is missing, unreadable or breaks its schema."""


class CRSError(ScreeningError, ValueError):
    """A layer or frame is not in EPSG:25832 (or has no CRS at all)."""


class LayerUnavailableError(ScreeningError, OSError):
    """A catalog layer resolves nowhere: not in the cache, the mirror, nor its official source."""


class LayerDataError(ScreeningError, ValueError):
    """A layer resolved but its content is unusable (corrupt file, missing key column, empty)."""


class LayerDamagedError(LayerDataError):
    """Features of a layer cannot be read or repaired, or the layer has fewer features than known before.

    Never a silent drop: the message names the layer, the file, the count and the feature ids.
    """


class OutputError(ScreeningError, OSError):
    """The output location cannot take a run: not creatable, not writable, or full (checked up front)."""


class SubmissionError(ScreeningError, ValueError):
    """A submission file has problems; ``problems`` lists every one found, not just the first.

    Parameters
    ----------
    problems
        Objects with a ``__str__`` naming file, feature, field, what is wrong and how to fix it.
    """

    exit_code = 2

    def __init__(self, problems):
        from screening.i18n import fmt_number, gettext  # the message is in the current language

        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        head = gettext("%(n)s problem(s) found:", n=fmt_number(len(lines)))
        super().__init__(head + "\n" + "\n".join(f"  - {line}" for line in lines))


class LayerFileError(LayerDataError):
    """An official layer file a user provides (``industripark layers import``) has problems; ``problems``
    lists every one found (file, what is wrong, the fix), and the exit code is 2, as for a bad submission."""

    exit_code = 2

    def __init__(self, problems):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        super().__init__(f"{len(lines)} problem(s) found:\n" + "\n".join(f"  - {line}" for line in lines))


class SelectionError(ScreeningError, ValueError):
    """The selection model cannot be built or solved (e.g. proven infeasible; the message explains why)."""
