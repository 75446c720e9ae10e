"""Chaos delivery is configurable: SANDBOX_CHAOS for `python -m saas.sandbox`, and at runtime
through the handle (tests) or POST /_sandbox/chaos."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import requests


def start_sandbox_process(chaos: str) -> subprocess.Popen:
    env = dict(os.environ, SANDBOX_CHAOS=chaos, SANDBOX_PORT="0")
    env.pop("STRIPE_SECRET_KEY", None)
    return subprocess.Popen([sys.executable, "-m", "saas.sandbox"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sandbox_chaos_env_turns_chaos_on():
    proc = start_sandbox_process('{"duplicate": 1.0, "delay_max": 0.1, "seed": 3}')
    try:
        line = proc.stdout.readline()
        assert "chaos on" in line, line
        url = re.search(r"listening on (http://\S+)", line).group(1)
        chaos = requests.get(url + "/_sandbox/health", timeout=5).json()["chaos"]
        assert chaos == {"shuffle": True, "duplicate": 1.0, "delay_max": 0.1, "window": 5, "seed": 3}
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_sandbox_chaos_env_with_bad_json_is_a_clear_error():
    proc = start_sandbox_process("{duplicate: lots")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert "SANDBOX_CHAOS / --chaos is not valid JSON" in err
    assert "Traceback" not in err


def test_chaos_set_and_cleared_at_runtime(sandbox):
    health = sandbox.url + "/_sandbox/health"
    assert requests.get(health).json()["chaos"] is None
    try:
        r = requests.post(sandbox.url + "/_sandbox/chaos", json={"chaos": {"duplicate": 0.9, "seed": 5}})
        assert r.status_code == 200 and r.json()["chaos"]["duplicate"] == 0.9
        assert requests.get(health).json()["chaos"]["seed"] == 5
        for bad in ({"chaos": {"dupes": 1}}, {"chaos": "lots"}, ["nope"]):
            r = requests.post(sandbox.url + "/_sandbox/chaos", json=bad)
            assert r.status_code == 400, bad
            assert requests.get(health).json()["chaos"]["seed"] == 5  # unchanged by a bad request
    finally:
        # The sandbox thread serves the whole session: never leave chaos on for later tests.
        assert sandbox.set_chaos(None) is None
    assert requests.get(health).json()["chaos"] is None
