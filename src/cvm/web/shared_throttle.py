"""Login throttling that every dashboard of a team workspace shares: the failures are counted in the access store.

:class:`cvm.web.throttle.LoginThrottle` keeps its counts in the server's memory, which
is right for the embedded workspace (one server). Behind a team workspace several
dashboards on several machines take logins for the same accounts; a guesser who
spreads attempts over them must meet one count. :class:`SharedLoginThrottle` applies
the same rule (the same delays and lockout, :meth:`LoginThrottle._wait_of`) to records
kept in the table ``login_failures`` of the workspace's access store (its PostgreSQL
catalog). Its clock is the wall clock (seconds since the epoch), which the machines
share; the monotonic clock of one process would mean nothing to another.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from cvm.web.access_store import ensure_schema, transaction
from cvm.web.throttle import LoginThrottle, _Record


class SharedLoginThrottle(LoginThrottle):
    """A :class:`LoginThrottle` whose records live in the access store reached by ``access()``.

    Parameters
    ----------
    access
        Gives this thread's connection to the access store (``WebState.access``).
    **limits
        ``delay_after``, ``lockout_after``, ``lockout_seconds``, ``address_factor`` as for :class:`LoginThrottle`.
    """

    def __init__(self, access: Callable[[], Any], **limits: Any) -> None:
        super().__init__(**{"clock": time.time, **limits})
        self.access = access

    def _load(self, keys: tuple[str, ...]) -> dict[str, _Record]:
        con = self.access()
        ensure_schema(con)
        found = {}
        for key in keys:
            row = con.execute("SELECT failures, last_failure FROM login_failures WHERE key = ?", [key]).fetchone()
            if row is not None:
                found[key] = _Record(failures=int(row[0]), last_failure=float(row[1]))
        return found

    def wait(self, *keys: str) -> float:
        now = self.clock()
        waits = [0.0]
        for key, record in self._load(keys).items():
            if now - record.last_failure <= self.lockout_seconds:  # older ones are forgotten
                waits.append(self._wait_of(key, record, now))
        return max(waits)

    def locked(self, key: str) -> bool:
        record = self._load((key,)).get(key)
        return record is not None and record.failures >= self._limits(key)[1]

    def failed(self, *keys: str) -> None:
        now = self.clock()
        con = self.access()
        ensure_schema(con)
        with transaction(con):  # two dashboards counting the same key at once take turns
            con.execute("DELETE FROM login_failures WHERE last_failure < ?", [now - self.lockout_seconds])
            for key in keys:
                row = con.execute("SELECT failures FROM login_failures WHERE key = ?", [key]).fetchone()
                failures = 1 if row is None else int(row[0]) + 1
                con.execute("INSERT INTO login_failures VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                            "failures = excluded.failures, last_failure = excluded.last_failure",
                            [key, failures, now])

    def succeeded(self, *keys: str) -> None:
        con = self.access()
        ensure_schema(con)
        for key in keys:
            con.execute("DELETE FROM login_failures WHERE key = ?", [key])
