"""hull's rule parser against Triton's own, over a large generated set of
rules: the same ones must be accepted, and accepted ones must print back as
the same canonical text.

Triton's parser is the npm package `fwrule`; it is installed (pinned) into a
cache folder outside the repository on first use. The test skips only when
node/npm are missing or the registry cannot be reached.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

import skips
from conftest import prog

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fwrule_gen  # noqa: E402

FWRULE_VERSION = "2.1.1"


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hull-tests", f"fwrule-{FWRULE_VERSION}")


@pytest.fixture(scope="module")
def fwrule_modules():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        skips.skip("no-node", "node and npm are needed to run Triton's fwrule as oracle")
    d = _cache_dir()
    mods = os.path.join(d, "node_modules")
    if not os.path.isfile(os.path.join(mods, "fwrule", "lib", "rule.js")):
        os.makedirs(d, exist_ok=True)
        cp = subprocess.run([npm, "install", "--prefix", d, "--no-audit",
                             "--no-fund", "--no-save",
                             f"fwrule@{FWRULE_VERSION}"],
                            capture_output=True, text=True, timeout=300)
        if cp.returncode != 0:
            skips.skip("offline", "npm could not install fwrule: "
                        + (cp.stderr.strip().splitlines() or ["?"])[-1])
    return mods


def _oracle(mods, rules):
    inp = "".join(json.dumps(r) + "\n" for r in rules)
    cp = subprocess.run(["node", os.path.join(HERE, "fwrule_oracle.js"), mods],
                        input=inp, capture_output=True, text=True, timeout=600,
                        check=True)
    return [json.loads(l) for l in cp.stdout.splitlines()]


def _hull(rules):
    inp = "".join(json.dumps(r) + "\n" for r in rules)
    cp = subprocess.run([prog("fwadm"), "parse"], input=inp,
                        capture_output=True, text=True, timeout=600)
    assert cp.returncode == 0, cp.stderr
    return [json.loads(l) for l in cp.stdout.splitlines()]


@pytest.mark.parametrize("seed", [1, 2])
def test_hull_parser_agrees_with_triton(fwrule_modules, seed):
    rules = fwrule_gen.generate(seed, 15000)
    want = _oracle(fwrule_modules, rules)
    got = _hull(rules)
    assert len(want) == len(got) == len(rules)
    accepted = sum(1 for w in want if w["ok"])
    # The set must exercise both sides.
    assert accepted > len(rules) // 10 and accepted < len(rules) * 9 // 10
    diffs = []
    for r, w, g in zip(rules, want, got):
        if w["ok"] != g["ok"] or (w["ok"] and w["rule"] != g["rule"]):
            diffs.append((r, w, g))
    assert not diffs, "\n".join(f"{r!r}\n  triton: {w}\n  hull:   {g}"
                                for r, w, g in diffs[:20])


def test_canonical_text_is_accepted_by_both(fwrule_modules):
    """What hull prints, Triton reads back to the same text. (Rules with a
    tag named "__proto__" are left out: Triton loses such a tag, and can
    print a side with nothing in it, which neither parser reads back.)"""
    rules = [r for r in fwrule_gen.generate(3, 5000) if "__proto__" not in r]
    got = [g["rule"] for g in _hull(rules) if g["ok"]]
    assert len(got) > 500
    again = _oracle(fwrule_modules, got)
    assert all(a["ok"] for a in again)
    mine = _hull(got)
    assert [a["rule"] for a in again] == [m["rule"] for m in mine]
