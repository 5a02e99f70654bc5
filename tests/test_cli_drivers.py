"""``cvm drivers`` as a whole process on a simulated workspace with known group effects."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.value.drivers_data import build_workspace, truth

CVM = [sys.executable, "-m", "cvm.cli"]


def cvm(*args: str, columns: int = 80) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(CVM + list(args), capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-drivers") / "ws"
    build_workspace(path, n_customers=3000, seed=11).close()
    return path


def test_json_gives_every_effect_with_its_interval(workspace):
    done = cvm("drivers", "--by", "channel", "--by", "regio", "--json", "--workspace", str(workspace))
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert {"as_of", "time_unit", "level", "n_customers", "purchase_model", "spend_model", "attributes", "answer",
            "profit_note", "min_customers_per_value"} <= set(payload)
    assert payload["level"] == 0.95 and payload["n_customers"] == 3000
    channel = payload["attributes"][0]
    assert channel["attribute"] == "channel" and channel["baseline"] == "web"
    assert {"attribute", "baseline", "customers", "groups", "tests", "left_out", "without_value"} <= set(channel)
    for group in channel["groups"]:
        assert {"value", "baseline", "customers", "purchase", "lifetime", "dropout_rate", "spend", "mean_spend", "profit",
                "words"} <= set(group)
        if group["baseline"]:
            continue
        for kind, expected in truth(group["value"]).items():
            effect = group["lifetime" if kind == "dropout" else kind]
            assert set(effect) == {"factor", "lower", "upper", "clear", "reason"}
            assert effect["lower"] <= expected <= effect["upper"], (group["value"], kind)
        assert {"profit_per_customer", "lower", "upper", "verdict"} <= set(group["profit"])
        # the dropout rate is the inverse of the lifetime factor, its interval the inverse interval
        rate, life = group["dropout_rate"], group["lifetime"]
        assert rate["factor"] * life["factor"] == pytest.approx(1.0)
        assert (rate["lower"], rate["upper"]) == pytest.approx((1 / life["upper"], 1 / life["lower"]))
    partner = channel["groups"][1]
    assert partner["value"] == "partner" and partner["purchase"]["clear"] is True
    region = payload["attributes"][1]
    assert not any(g[k]["clear"] for g in region["groups"] for k in ("purchase", "lifetime", "spend"))


def test_people_read_the_answer_and_a_table_that_fits_80_columns(workspace):
    done = cvm("drivers", "--by", "channel", "--workspace", str(workspace))
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "By channel, compared with web: partner buys" in text
    assert "Customers with channel partner buy " in text and "(95%: " in text
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_mistakes_are_refused_in_words_with_exit_code_1(workspace):
    done = cvm("drivers", "--by", "region", "--json", "--workspace", str(workspace))
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert "no attribute 'region'" in error["error"] and "channel, regio" in error["error"]
    assert "Traceback" not in done.stderr
    done = cvm("drivers", "--workspace", str(workspace))
    assert done.returncode == 1
    assert "attributes that can be compared: channel, regio" in done.stderr
