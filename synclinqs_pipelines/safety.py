"""Keeping personal data out of Dagster's event log when something unexpected fails.

Dagster records an asset's exception message and traceback. Library errors can quote the data they
choked on (a polars cast error names the value), so an unexpected exception is replaced by one that says
where it happened and what to do, with its cause cut off. SyncLinqs' own errors (whose messages are
written without personal data) pass through unchanged.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

KNOWN_SAFE = (
    "PartitionError",
    "MappingFileError",
    "SpecError",
    "UnknownTenantError",
    "KeyProviderError",
    "DecryptionError",
    "Failure",
    "RetryRequested",
    "DagsterExecutionInterruptedError",
    "DeliveryFailed",
)


class ScrubbedError(RuntimeError):
    """An unexpected failure, reported without the message of its cause (which may quote personal data)."""


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "synclinqs_pipelines" in f.filename] or frames
    last = ours[-1] if ours else None
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}" if last else "unknown place"


def scrub(exc: BaseException) -> BaseException:
    if type(exc).__name__ in KNOWN_SAFE or isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return exc
    return ScrubbedError(
        f"{type(exc).__name__} at {_where(exc)}; its message is withheld because it may contain personal "
        "data. Re-run the partition; if it fails again, reproduce with `synclinqs mapping test` on the file."
    )


def _reraise(exc: BaseException) -> None:
    safe = scrub(exc)
    if safe is exc:
        raise exc
    raise safe from None


def scrubbed(fn: F) -> F:
    """Re-raise unexpected exceptions of a generator or function without their message or cause."""
    import inspect

    # Dagster reads the wrapper's signature; give it the wrapped one with its annotations resolved in the
    # wrapped function's module (a string annotation would be resolved in this module, and fail).
    resolved = inspect.signature(fn, eval_str=True)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except BaseException as exc:
                _reraise(exc)

        gen_wrapper.__signature__ = resolved  # type: ignore[attr-defined]
        return gen_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            _reraise(exc)

    wrapper.__signature__ = resolved  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
