"""The one list of reasons an integration test may skip for.

A skip that passes quietly is how a suite passes without testing anything:
so every skip names one of the keys below as "[key] detail", and the plugin
in conftest.py fails the session when a test skipped for any other reason
(or was marked xfail). Each key is a property of the host that the test
cannot change and `make check` cannot install; a program or package that
`scripts/deps --test` installs is never a reason to skip: its absence fails.

Use skip(key, detail) in a test, or skipif(cond, key, detail) as a mark.
This module is also the pytest plugin (conftest.py loads it; elsewhere
`-p skips`), and `python3 skips.py --check-unit-log LOG` checks cmocka's.
"""
import re
import sys

import pytest

ALLOWED = {
    "no-kvm":
        "/dev/kvm is absent or cannot create a VM (no hardware "
        "virtualization, or nested virtualization switched off): hull-vmm "
        "cannot run a guest at all",
    "no-hw-virt":
        "the CPU shows no vmx/svm: this host's KVM runs hull-vmm's small "
        "test guest but not a stock Linux kernel",
    "has-hw-virt":
        "the test checks the refusal given on a host without vmx/svm, and "
        "this host has them",
    "kernel-lacks":
        "the running kernel lacks the feature under test (btrfs simple "
        "quotas before 6.7, memory.peak, io.weight, BFQ)",
    "kernel-has":
        "the test checks the error given on kernels without a feature "
        "(bridge VLAN filtering), and this kernel has it",
    "host-denies":
        "the host (typically a container) refuses what the test needs and "
        "root cannot grant: a mount namespace, a loop device, the immutable "
        "attribute, any cgroup hierarchy",
    "offline":
        "a download the test needs failed (Debian mirror for the guest "
        "kernel, npm registry for Triton's fwrule): the host has no route "
        "to it",
    "no-node":
        "node and npm, which run Triton's own fwrule as an oracle, are not "
        "installed: scripts/deps does not install them (Debian's npm "
        "conflicts with the NodeSource node that many hosts carry)",
}

_TAG = re.compile(r"\[([a-z-]+)\]")


def reason(key, detail=""):
    """The skip reason text for KEY; KEY must be on the list."""
    if key not in ALLOWED:
        raise KeyError(f"{key!r} is not an allowed skip reason (tests/integration/skips.py)")
    return f"[{key}] {detail}".rstrip()


def skip(key, detail=""):
    __tracebackhide__ = True  # pytest reports the caller's line
    pytest.skip(reason(key, detail))


def skipif(cond, key, detail=""):
    return pytest.mark.skipif(cond, reason=reason(key, detail))


def allowed(text):
    """Whether a skip reason, as pytest reports it, names an allowed key."""
    text = text.strip()
    if text.startswith("Skipped: "):
        text = text[len("Skipped: "):]
    m = _TAG.match(text)
    return bool(m) and m.group(1) in ALLOWED


def _report_reason(report):
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2])
    return str(lr)


class Guard:
    """pytest plugin: collects unexpected skips and fails the session."""

    def __init__(self):
        self.unexpected = []

    def _see(self, report):
        if hasattr(report, "wasxfail"):
            self.unexpected.append((report.nodeid, "xfail: " + str(report.wasxfail)))
        elif report.skipped:
            why = _report_reason(report)
            if not allowed(why):
                self.unexpected.append((report.nodeid, why))

    def pytest_runtest_logreport(self, report):
        self._see(report)

    def pytest_collectreport(self, report):
        if report.skipped:
            self._see(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.unexpected and session.exitstatus in (
                pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if not self.unexpected:
            return
        terminalreporter.section("skips not on the allow-list "
                                 "(tests/integration/skips.py)", red=True)
        for nodeid, why in self.unexpected:
            terminalreporter.line(f"UNEXPECTED SKIP {nodeid}: {why}")


def pytest_configure(config):
    config.pluginmanager.register(Guard(), "hull-skip-guard")


def check_log(path):
    """For `make unit`: fails on any cmocka test that skipped. The unit
    tests' skips (not root, no btrfs pool, no x86-64 loader) are none of
    them a host property that `make check`, run as root on x86-64, lacks.
    Returns the exit status."""
    pat = re.compile(r"\[  SKIPPED \] (\w+)$")
    with open(path, errors="replace") as f:
        bad = sorted({m.group(1) for m in map(pat.search, f) if m})
    for line in bad:
        print(f"unexpected unit test skip: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--check-unit-log":
        print("usage: skips.py --check-unit-log MESON_TESTLOG", file=sys.stderr)
        sys.exit(2)
    sys.exit(check_log(sys.argv[2]))
