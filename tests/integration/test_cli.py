"""Every program behaves like a well-made CLI: --help, a manual page,
usage errors that are one clear line and a non-zero exit."""
import glob
import os
import subprocess

import pytest

from conftest import BUILD, ROOT, prog


def programs():
    """The user-facing programs: every src/cmd/NAME.c and src/cmd/NAME/."""
    names = [os.path.basename(p)[:-2] for p in glob.glob(os.path.join(ROOT, "src/cmd/*.c"))]
    names += [os.path.basename(os.path.dirname(p))
              for p in glob.glob(os.path.join(ROOT, "src/cmd/*/main.c"))]
    return sorted(names)


@pytest.mark.parametrize("name", programs())
def test_help_exits_zero_and_prints_usage(name):
    cp = subprocess.run([prog(name), "--help"], capture_output=True, text=True)
    assert cp.returncode == 0, cp
    assert "usage" in cp.stdout.lower()


@pytest.mark.parametrize("name", programs())
def test_has_manual_page(name):
    page = os.path.join(ROOT, "docs", name + ".md")
    assert os.path.isfile(page), f"docs/{name}.md is missing"
    with open(page) as f:
        text = f.read()
    assert name in text and len(text) > 200


@pytest.mark.parametrize("name", programs())
def test_unknown_option_is_one_line_usage_error(name):
    cp = subprocess.run([prog(name), "--no-such-option-xyz"],
                        capture_output=True, text=True)
    assert cp.returncode != 0
    lines = [l for l in cp.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, cp.stderr
