"""The skip guard (skips.py): a run whose only test skips for a reason not
on the allow-list fails, as does an xfail; a skip naming an allowed key
passes. Runs pytest on a small test file with the same plugin."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def run_pytest(tmp_path, body):
    t = tmp_path / "test_sample.py"
    t.write_text("import pytest\nimport skips\n\n" + body)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "skips", "-p",
         "no:cacheprovider", str(t)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=HERE))


@pytest.mark.parametrize("body", [
    "def test_x():\n    pytest.skip('tool is not installed')\n",
    "@pytest.mark.skipif(True, reason='not today')\ndef test_x():\n    pass\n",
    "def test_x():\n    pytest.skip('[made-up] no such key')\n",
    "pytest.skip('whole module', allow_module_level=True)\n",
    "@pytest.mark.xfail(reason='known')\ndef test_x():\n    assert 0\n",
    "def test_x():\n    pytest.importorskip('no_such_module_here')\n",
], ids=["skip", "skipif", "unknown-key", "module", "xfail", "importorskip"])
def test_unexpected_skip_fails_the_run(tmp_path, body):
    r = run_pytest(tmp_path, body)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "UNEXPECTED SKIP" in r.stdout, r.stdout
    assert "skips not on the allow-list" in r.stdout


@pytest.mark.parametrize("body", [
    "def test_x():\n    skips.skip('no-kvm', '/dev/kvm is absent')\n",
    "@skips.skipif(True, 'kernel-lacks', 'no simple quotas')\n"
    "def test_x():\n    pass\n",
    "def test_y():\n    pass\n",
], ids=["skip", "skipif", "no-skip"])
def test_allowed_skip_passes(tmp_path, body):
    r = run_pytest(tmp_path, body)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "UNEXPECTED SKIP" not in r.stdout


def test_a_failure_keeps_its_status(tmp_path):
    r = run_pytest(tmp_path, "def test_x():\n    assert 0\n"
                   "def test_y():\n    pytest.skip('nope')\n")
    assert r.returncode == 1, r.stdout
    assert "1 failed" in r.stdout


def test_unknown_key_is_refused_at_the_call():
    import skips
    with pytest.raises(KeyError):
        skips.reason("tool-missing")


def test_unit_log_check(tmp_path):
    """cmocka's skip lines in meson's log fail `make unit`."""
    log = tmp_path / "testlog.txt"
    log.write_text("[ RUN      ] test_a\n[       OK ] test_a\n"
                   "[  PASSED  ] 1 test(s).\n")
    cmd = [sys.executable, os.path.join(HERE, "skips.py"),
           "--check-unit-log", str(log)]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    log.write_text("[ RUN      ] test_load\n[  SKIPPED ] test_load\n"
                   "[  SKIPPED ] 1 test(s), listed below:\n"
                   "[  SKIPPED ] test_load\n")
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr == "unexpected unit test skip: test_load\n"
