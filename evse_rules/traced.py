"""A traceback once per place and kind of error: a bug hit at every tick of a daemon that
runs for months must not flood its log. The first time is an error with its traceback; the
same again (same place, same exception type) is a debug line (the daemon's health report
says once that the source is failing, and when it is back, with a count)."""

from __future__ import annotations

import logging


class TracedOnce:
    """Remembers which (place, exception type) pairs were logged with their traceback."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, type[BaseException]]] = set()

    def error(self, logger: logging.Logger, place: str, error: BaseException,
              message: str, *args: object) -> None:
        """`logger.error(message, *args)` with the traceback the first time; later, debug."""
        key = (place, type(error))
        if key not in self._seen:
            self._seen.add(key)
            logger.error(message, *args, exc_info=True)
            return
        logger.debug(message + " (again: %s: %s)", *args, type(error).__name__, error)
