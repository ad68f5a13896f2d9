"""The README blocks that quote the kit's own output match a fresh run of their commands
(scripts/update_readme.py regenerates them), so the README cannot drift from the kit."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("update_readme", REPO / "scripts" / "update_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _generator()
QUOTED = {name: text for document in generator.DOCUMENTS for name, text in
          generator.blocks_in(document.read_text()).items()}


def test_every_block_is_known_and_the_readme_has_them_all():
    assert set(QUOTED) == set(generator.BLOCKS)


@pytest.mark.parametrize("name", ["plan-paper", "notebook-list", "presets"])
def test_a_quoted_output_is_what_its_command_prints_now(name):
    assert QUOTED[name] == generator.BLOCKS[name](), f"README block {name} drifted: python scripts/update_readme.py"


@pytest.mark.slow  # a rerun or a collection: `make test`, not the edit loop
def test_the_quoted_test_count_is_what_pytest_collects():
    quoted = int(re.search(r"\*\*(\d+) tests\*\*", QUOTED["test-count"]).group(1))
    assert quoted == generator.collected_tests(), "the test count drifted: python scripts/update_readme.py"


def test_the_checker_sees_a_drifted_block():
    text = "a\n<!-- generated: presets -->\nold words\n<!-- /generated -->\nb\n"
    assert generator.blocks_in(text) == {"presets": "old words\n"}
    renewed = generator.render(text, {"presets": generator.presets()})
    assert generator.blocks_in(renewed)["presets"] == generator.presets() and renewed.endswith("<!-- /generated -->\nb\n")
