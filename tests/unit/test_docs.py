"""The README's configuration table is generated from the settings, so it stays true."""

from pathlib import Path

import pytest

from services.admin.config_doc import markdown_table

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_readme_configuration_table_matches_the_settings():
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "run: .venv/bin/python deploy/render_readme.py"


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```", 2)[1]
    assert "make up" in first_block and "make test" in first_block
