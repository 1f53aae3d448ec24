"""How `./iryo test` splits the suite over two pytest-xdist workers (tests/conftest.py): all lab tests on one
worker in order, the rest on the other; a lab test outside tests/integration fails with its reason. Each
case runs a real pytest, with this checkout's tests/conftest.py, on a small tree of its own."""

import subprocess
import sys

import pytest

from conftest import REPO

LAB_TEST = """import os
import pytest

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("n", range({count}))
def test_lab(n):
    with open({log!r}, "a") as log:
        log.write("%s %s\\n" % (os.environ.get("PYTEST_XDIST_WORKER", "main"), __name__))
"""
UNIT_TEST = """import os
import pytest


@pytest.mark.parametrize("n", range(20))
def test_unit(n):
    with open({log!r}, "a") as log:
        log.write("%s unit\\n" % os.environ.get("PYTEST_XDIST_WORKER", "main"))
"""


def tree(tmp_path, files):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").symlink_to(REPO / "tests" / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    lab: needs the lab\n")
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)


def pytest_in(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           "-c", str(tmp_path / "pytest.ini"), *args, str(tmp_path / "tests")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_all_lab_tests_run_on_one_worker_and_the_unit_tests_on_the_other(tmp_path):
    log = str(tmp_path / "ran.log")
    tree(tmp_path, {"tests/integration/test_a_lab.py": LAB_TEST.format(count=6, log=log),
                    "tests/integration/test_b_lab.py": LAB_TEST.format(count=6, log=log),
                    "tests/unit/test_plain.py": UNIT_TEST.format(log=log)})
    result = pytest_in(tmp_path, "-n", "2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    ran = [line.split() for line in (tmp_path / "ran.log").read_text().splitlines()]
    lab_workers = {worker for worker, kind in ran if kind != "unit"}
    unit_workers = {worker for worker, kind in ran if kind == "unit"}
    assert len(lab_workers) == 1 and lab_workers <= {"gw0", "gw1"}, ran
    # in collection order, file after file
    assert [kind for _, kind in ran if kind != "unit"] == ["test_a_lab"] * 6 + ["test_b_lab"] * 6
    [lab_worker] = lab_workers
    assert unit_workers - lab_workers, "the other worker takes unit tests while the lab tests run: %s" % ran
    # the lab worker starts on the lab tests at once (the largest scope goes first) and takes unit tests only
    # after the last of them
    on_lab_worker = [kind for worker, kind in ran if worker == lab_worker]
    assert on_lab_worker[:12] == [kind for _, kind in ran if kind != "unit"], ran


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_lab_test_outside_tests_integration_fails_with_its_reason(tmp_path, workers):
    log = tmp_path / "ran.log"
    tree(tmp_path, {"tests/unit/test_stray_lab.py": LAB_TEST.format(count=1, log=str(log))})
    result = pytest_in(tmp_path, "-rE", *workers)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "ERROR tests/unit/test_stray_lab.py::test_lab[0]" in result.stdout, result.stdout[-3000:]
    assert "a test that uses the lab must live in tests/integration/ (the lab tests run on one pytest-xdist " \
           "worker, which holds the lab lock): move it there" in result.stdout, result.stdout[-3000:]
    assert not log.exists(), "the stray test must fail before its body runs"
