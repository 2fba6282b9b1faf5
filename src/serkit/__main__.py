"""``python -m serkit`` runs the command line."""

from serkit.cli.main import app

app(prog_name="serkit")
