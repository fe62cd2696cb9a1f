"""Log a problem once per key, so a bad field or a dead source does not flood the log."""

from __future__ import annotations

import logging
import threading


class LogOnce:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def warning(self, key: str, msg: str, *args: object) -> bool:
        """Log `msg` the first time `key` is seen; return whether it was logged."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
        self._logger.warning(msg, *args)
        return True

    def clear(self, key: str) -> None:
        """Forget `key` (the problem went away), so a recurrence is logged again."""
        with self._lock:
            self._seen.discard(key)
