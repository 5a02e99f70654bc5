"""Fixtures of the web tests: a tiny workspace, users and tokens, and a real uvicorn server on 127.0.0.1.

The workspace holds a small generated transaction file (with one bad row that
ingest quarantines) and two stored scoring runs written with
``cvm.data.scores.save_scores``; the values in those runs are fixed numbers
derived from the transactions, because these tests check the web app, not the
models.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

PASSWORD = "correct-horse-battery"
N_CUSTOMERS = 30


def transactions_csv(path: Path, bad_row: bool = True) -> Path:
    """A deterministic transactions file: customer i buys (i % 4) + 1 times, in two channels."""
    lines = ["customer_id;date;amount;channel"]
    for i in range(N_CUSTOMERS):
        for k in range(i % 4 + 1):
            month = 1 + (i + 3 * k) % 12
            amount = f"{10 + i + k},{k * 25 % 100:02d}"  # decimal comma, as Dutch exports have
            lines.append(f"K{i:03d};{(i + k) % 28 + 1:02d}-{month:02d}-2023;{amount};{'web' if (i + k) % 2 else 'winkel'}")
    if bad_row:
        lines.append("K999;31-02-2023;12,00;web")  # 31 February: quarantined
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def store_runs(ws) -> None:
    """Two stored scoring runs (as of 2023-06-30 and 2023-12-31) with fixed, simple values."""
    from cvm.data.scores import new_run_id, save_scores

    tx = ws.frame("SELECT customer_id, count(*) AS n, sum(amount) AS total, min(ts) AS first, max(ts) AS last "
                  "FROM transactions GROUP BY customer_id ORDER BY customer_id")
    for as_of, factor in (("2023-06-30", 0.8), ("2023-12-31", 1.0)):
        frame = pd.DataFrame({
            "customer_id": tx["customer_id"],
            "frequency": tx["n"] - 1.0,
            "recency": 10.0,
            "T": 52.0,
            "monetary_value": tx["total"] / tx["n"],
            "n_transactions": tx["n"].astype(float),
            "first_purchase": tx["first"],
            "last_purchase": tx["last"],
            "historic_value": tx["total"],
            "probability_alive": [0.2 + 0.7 * ((i % 5) / 4) for i in range(len(tx))],
            "clv": tx["total"] * factor,
            "clv_low": tx["total"] * factor * 0.5,
            "clv_high": tx["total"] * factor * 1.5,
        })
        frame["rank"] = frame["clv"].rank(ascending=False, method="first").astype(int)
        frame["percentile"] = 1 - (frame["rank"] - 1) / len(frame)
        frame["value_tier"] = ["gold" if p > 0.8 else "silver" if p > 0.5 else "bronze" for p in frame["percentile"]]
        frame["lifecycle_stage"] = ["at_risk" if a < 0.5 else "active" for a in frame["probability_alive"]]
        run = {"run_id": new_run_id(), "as_of": as_of, "created": pd.Timestamp.now(), "model": "bgnbd",
               "model_reason": "test run", "horizon": 52, "time_unit": "week", "discount_rate": 0.1, "margin": 0.3,
               "level": 0.9, "n_customers": len(frame), "total_clv": float(frame["clv"].sum())}
        save_scores(ws, frame, run)
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving the app in a background thread of this process."""

    def __init__(self, app) -> None:
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the test server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def make_workspace(folder: Path) -> dict:
    """Workspace with data, two scoring runs, three users (named after their roles) and a token per role."""
    from cvm.data import Workspace
    from cvm.web.auth import add_user, create_token

    ws = Workspace.open(folder)
    ws.ingest(transactions_csv(folder.parent / "orders.csv", bad_row=False))
    store_runs(ws)
    ws.close()
    tokens = {}
    for role in ("viewer", "analyst", "admin"):
        add_user(folder, role, PASSWORD, role)
        tokens[role] = create_token(folder, role, name=f"{role} token")
    return {"path": folder, "tokens": tokens}


@pytest.fixture(scope="session")
def web_workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("web") / "ws")


@pytest.fixture(scope="session")
def live_server(web_workspace):
    from cvm.web.app import create_app

    app = create_app(web_workspace["path"], max_upload_mb=1)
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tokens(web_workspace):
    return web_workspace["tokens"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    """Log in through the form (fetching the anonymous CSRF token first)."""
    import re

    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": csrf, "next": "/"})


def csrf_of(html: str) -> str:
    import re

    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
