"""`neutrino demo ...` and `neutrino lab ...` reach the lab's CLI, through the real executable."""

from __future__ import annotations

import subprocess

import pytest
from support.server import clean_env, executable


@pytest.mark.parametrize("word,usage", [("lab", "usage: neutrino-lab [-h]"),
                                        ("demo", "usage: neutrino-lab demo")])
def test_lab_words_go_to_the_lab(word, usage):
    done = subprocess.run([executable("neutrino"), word, "--help"], env=clean_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(usage)


def test_api_commands_stay_with_cliff():
    done = subprocess.run([executable("neutrino"), "help", "net-create"], env=clean_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: neutrino net-create")
    assert "--provider:segmentation_id" in done.stdout
