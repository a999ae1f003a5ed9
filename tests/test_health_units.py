"""Units of health checks: the status after each probe, as docker's daemon decides it, and
the probe's argv (no container needed)."""

from __future__ import annotations

from builder.containers import health


def _after(results, start_period_flags, retries=3):
    h = {"status": "starting", "failing_streak": 0, "log": []}
    for code, in_start in zip(results, start_period_flags):
        h = health._next(h, code, "out", 0.0, in_start, retries)
    return h


def test_health_status_follows_docker():
    assert _after([1, 1], [False, False])["status"] == "starting"
    assert _after([1, 1, 1], [False] * 3)["status"] == "unhealthy"
    assert _after([1, 1, 1], [True] * 3)["failing_streak"] == 0  # the start period does not count
    assert _after([0, 1], [True, True])["failing_streak"] == 1  # once healthy, it does
    recovered = _after([1, 1, 1, 0], [False] * 4)
    assert recovered["status"] == "healthy" and recovered["failing_streak"] == 0
    assert len(_after([1] * 9, [False] * 9)["log"]) == health.MAX_LOG


def test_probe_args():
    assert health.probe_args(["CMD-SHELL", "curl -f http://localhost/"], None) == [
        "/bin/sh", "-c", "curl -f http://localhost/"]
    assert health.probe_args(["CMD-SHELL", "x"], ["/bin/bash", "-ec"]) == ["/bin/bash", "-ec", "x"]
    assert health.probe_args(["CMD", "true", "a b"], None) == ["true", "a b"]
