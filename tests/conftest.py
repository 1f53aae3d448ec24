"""Shared fixtures and the skip policy. Unit tests need nothing but this machine as `./iryo setup` left it
(the real-daemon ones also this checkout's lab images, built here); lab tests get the lab from
tests/integration/conftest.py.

Skip policy (tests/README.md): a skip or xfail is legitimate only when its reason starts with
"missing capability:" and names what this machine truly lacks (not Debian 12, not root, ...).
Any other skip or xfail fails the session, one line per offending test, so a test cannot stop
testing quietly (an aged fixture, an image not built yet, a tool not on PATH).
"""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "module_utils"))  # host-side helpers, imported as plain modules in tests
sys.path.insert(0, str(REPO / "tests"))  # test helpers (library_loader); conftest names collide across folders
# The plugins import the controller library as ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard
# (docs/collection.md): the checkout's collection view, a plain namespace package for tests that load a plugin file.
sys.path.insert(0, str(REPO / "collections"))

import testkit  # noqa: E402 - needs the path above

_offending = []


def pytest_configure(config):
    config.addinivalue_line("markers", "requires_tools(*names): tools `./iryo setup` installs; the test fails "
                                       "(never skips) when one is missing")


# The lab is one set of containers behind one lock, held by a test process for its whole session: every test
# that uses it lives in tests/integration, and under pytest-xdist (`./iryo test` runs `pytest -n 2`) those tests
# form one scope that one worker runs in collection order, while the other worker takes the unit tests, one by
# one. xdist's own `--dist loadgroup` cannot do this here: it marks a group by rewriting `item._nodeid`, which
# pytest 9 no longer reads, so the group silently falls apart and the second worker waits on the lab lock.
LAB_TESTS = "tests/integration/"


def _uses_lab(item):
    return item.get_closest_marker("lab") is not None or {"lab", "lab_lock"} & set(getattr(item, "fixturenames", ()))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class LabScopeScheduling(LoadScopeScheduling):
        """All lab tests are one scope (the largest, so it is handed out first); every other test its own."""

        def _split_scope(self, nodeid):
            return "lab" if nodeid.startswith(LAB_TESTS) else nodeid

    return LabScopeScheduling(config, log)


def pytest_runtest_setup(item):
    # The scheduler above knows a lab test by its path only: a lab test elsewhere would run beside the lab
    # worker and wait for its lock until the end of the session. It fails here, before its fixtures, as a plain
    # test failure with its reason (an error raised at collection would reach the user from an xdist worker
    # only as an INTERNALERROR without the message).
    if _uses_lab(item) and not item.nodeid.startswith(LAB_TESTS):
        pytest.fail("a test that uses the lab must live in %s (the lab tests run on one pytest-xdist worker, "
                    "which holds the lab lock): move it there" % LAB_TESTS, pytrace=False)
    for mark in item.iter_markers("requires_tools"):
        for name in mark.args:
            testkit.tool(name)


def _skip_reason(report):
    if hasattr(report, "wasxfail"):
        return "xfail", report.wasxfail or "(no reason)"
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return "skip", text[len("Skipped: "):] if text.startswith("Skipped: ") else text


def _check(report):
    if not report.skipped:
        return
    kind, reason = _skip_reason(report)
    if not reason.strip().lower().startswith(testkit.MISSING_CAPABILITY):
        _offending.append("%s %s: %s" % (kind.upper(), report.nodeid, " ".join(reason.split())))


def pytest_runtest_logreport(report):
    _check(report)


def pytest_collectreport(report):
    _check(report)


def pytest_terminal_summary(terminalreporter):
    if _offending:
        terminalreporter.section("skips that name no missing capability (tests/README.md)", red=True)
        for line in _offending:
            terminalreporter.line(line, red=True)


def pytest_sessionfinish(session):
    # A session whose tests all passed still fails: a skipped test tested nothing.
    if _offending and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def lab_images():
    """{codename: tag} of this checkout's lab images (built here when missing, under the lab lock)."""
    return testkit.build_lab_images()


@pytest.fixture(scope="session")
def lab_lock():
    """The lab lock for the rest of the session (tests/testkit.py: re-entrant within this process)."""
    with testkit.lab_lock():
        yield
