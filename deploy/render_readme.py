"""Rewrite the configuration table in README.md from the settings classes."""

from pathlib import Path

from services.admin.config_doc import markdown_table

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"

readme = Path(__file__).resolve().parents[1] / "README.md"
text = readme.read_text()
head, rest = text.split(START, 1)
_, tail = rest.split(END, 1)
readme.write_text(f"{head}{START}\n{markdown_table()}\n{END}{tail}")
