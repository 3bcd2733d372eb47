"""Exception types shared by every qfin layer.

Every error qfin raises on purpose derives from :class:`QfinError`, so callers (and the CLI) can catch
one type and print the message. Messages are written for people: they name the file, column, row or key
that is wrong and say what would be accepted.
"""

from __future__ import annotations

__all__ = [
    "QfinError",
    "RenderModeError",
    "DataValidationError",
    "DatasetNotFoundError",
    "SpecError",
    "CheckpointError",
]


class QfinError(Exception):
    """Base class of all qfin errors."""


class DataValidationError(QfinError, ValueError):
    """A frame or file breaks a data rule (schema, missing values, price sanity, ordering).

    Attributes
    ----------
    rule : str
        Short name of the rule that failed, e.g. ``"missing_columns"`` or ``"unsorted_timestamps"``.
    column : str | None
        The offending column, when one is to blame.
    rows : list[int]
        Zero-based indices of the first offending rows (at most a handful).
    """

    def __init__(self, message: str, *, rule: str = "invalid_data", column: str | None = None,
                 rows: list[int] | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.column = column
        self.rows = list(rows or [])


class DatasetNotFoundError(QfinError, KeyError):
    """An unknown dataset name; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class SpecError(QfinError, ValueError):
    """A TOML spec or config with a wrong key, a wrong type or an impossible value."""


class RenderModeError(QfinError, TypeError):
    """An environment asked for a render mode it does not offer. A TypeError too, as Gymnasium's tools expect:
    Stable-Baselines3's ``make_vec_env`` asks for ``"rgb_array"`` and retries without it on TypeError."""


class CheckpointError(QfinError):
    """A checkpoint that is missing, incomplete or does not match the model it is loaded into."""


class MemoryLimitError(QfinError, MemoryError):
    """Work refused before it starts because its estimated memory exceeds the limit (``QFIN_MEMORY_LIMIT_GB``,
    default 80% of physical memory); the message names both numbers and what to reduce."""


__all__.append("MemoryLimitError")


class TrainingDivergedError(QfinError):
    """Training met a non-finite loss, gradient or parameter and stopped at once; the message names the stage and
    step and where the last good checkpoint is (it is kept, never overwritten by the diverged state)."""


__all__.append("TrainingDivergedError")
