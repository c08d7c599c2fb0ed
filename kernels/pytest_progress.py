"""Pytest plugin: `[progress] N of M cases` at the start, at most every 10 s, and at the end.

Loaded by vllm-kernel-ci with `-p pytest_progress`; the step's heartbeat reads the last such line from the
log, so a long test run shows how far it is in the job log.
"""

import time

import pytest

EVERY_S = 10.0
_state = {"done": 0, "total": 0, "last": 0.0}
_config: pytest.Config | None = None


def _report(force: bool = False) -> None:
    now = time.monotonic()
    if _config is None or (not force and now - _state["last"] < EVERY_S):
        return
    _state["last"] = now
    line = f"[progress] {_state['done']} of {_state['total']} cases"
    reporter = _config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print(line, flush=True)
        return
    # after pytest's row of dots, on a line of its own
    reporter.write("\n")
    reporter.write_line(line)


def pytest_configure(config: pytest.Config) -> None:
    global _config
    _config = config


def pytest_collection_finish(session: pytest.Session) -> None:
    _state["total"] = len(session.items)
    _report(force=True)


def pytest_runtest_logfinish(nodeid: str, location: tuple) -> None:
    _state["done"] += 1
    _report()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _report(force=True)
