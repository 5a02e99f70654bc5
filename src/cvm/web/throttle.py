"""Login throttling: a growing wait after failed logins, per account and per client address, then a lockout.

After ``delay_after`` failed logins in a row, the next attempt must wait
``2 ** (k - delay_after)`` seconds after the k-th failure (1 s, 2 s, 4 s, …);
after ``lockout_after`` failures the key is locked for ``lockout_seconds``. An
attempt that comes too early is not checked at all: the answer is HTTP 429 with
``Retry-After``, even for the right password, so guessing gains nothing from
speed. A successful login clears the account's record; a record is forgotten
once ``lockout_seconds`` passed since its last failure.

Accounts and addresses are counted separately: one address trying many accounts
is stopped by its address count (which allows ``address_factor`` times as many
failures, because an office shares one address), many addresses trying one
account by the account count. The records live in the server's memory (one
process owns the workspace); a restart forgets them.

This follows OWASP's Authentication Cheat Sheet ("account lockout" with an
observation window and an increasing delay) without locking an account forever,
which would let anyone lock anybody out.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0


class LoginThrottle:
    """Counts failed logins per key (``"user:NAME"``, ``"addr:ADDRESS"``) and says how long to wait.

    Parameters
    ----------
    delay_after
        Failures allowed without any wait.
    lockout_after
        Failures after which the key is locked for ``lockout_seconds``.
    lockout_seconds
        Length of a lockout, and the time after which a record is forgotten.
    address_factor
        An address may fail this many times as often as an account before it waits or is locked.
    clock
        Seconds, monotonic (a test can pass its own).
    """

    MAX_KEYS = 100_000

    def __init__(self, delay_after: int = 3, lockout_after: int = 10, lockout_seconds: float = 900.0,
                 address_factor: int = 3, clock=time.monotonic) -> None:
        self.delay_after = max(0, int(delay_after))
        self.lockout_after = max(1, int(lockout_after))
        self.lockout_seconds = float(lockout_seconds)
        self.address_factor = max(1, int(address_factor))
        self.clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def _limits(self, key: str) -> tuple[int, int]:
        factor = self.address_factor if key.startswith("addr:") else 1
        return self.delay_after * factor, self.lockout_after * factor

    def _wait_of(self, key: str, record: _Record, now: float) -> float:
        delay_after, lockout_after = self._limits(key)
        if record.failures >= lockout_after:
            wait = self.lockout_seconds
        elif record.failures >= delay_after:
            wait = min(2.0 ** (record.failures - delay_after), self.lockout_seconds)
        else:
            return 0.0
        return max(0.0, record.last_failure + wait - now)

    def wait(self, *keys: str) -> float:
        """Seconds before any of ``keys`` may try again (0 when all may try now)."""
        now = self.clock()
        with self._lock:
            waits = [0.0]
            for key in keys:
                record = self._records.get(key)
                if record is None:
                    continue
                if now - record.last_failure > self.lockout_seconds:  # old news: forgotten
                    del self._records[key]
                    continue
                waits.append(self._wait_of(key, record, now))
        return max(waits)

    def retry_after(self, *keys: str) -> int:
        """:meth:`wait` in whole seconds, rounded up (the ``Retry-After`` header); 0 when no wait."""
        seconds = self.wait(*keys)
        return int(math.ceil(seconds)) if seconds > 0 else 0

    def locked(self, key: str) -> bool:
        """True when ``key`` has reached its lockout."""
        with self._lock:
            record = self._records.get(key)
            return record is not None and record.failures >= self._limits(key)[1]

    def failed(self, *keys: str) -> None:
        """Count one failed login against each key."""
        now = self.clock()
        with self._lock:
            if len(self._records) > self.MAX_KEYS:  # bounded memory: forget the oldest half
                oldest = sorted(self._records.items(), key=lambda kv: kv[1].last_failure)
                for key, _ in oldest[: len(oldest) // 2]:
                    del self._records[key]
            for key in keys:
                record = self._records.get(key)
                if record is None or now - record.last_failure > self.lockout_seconds:
                    record = self._records[key] = _Record()
                record.failures += 1
                record.last_failure = now

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of ``keys`` (after a successful login)."""
        with self._lock:
            for key in keys:
                self._records.pop(key, None)
