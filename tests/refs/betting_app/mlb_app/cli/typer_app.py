"""The newer typer command line (ported from click)."""

from typing import Annotated

import typer

from mlb_app.db.connection import execute

app = typer.Typer(help="Reads MLB_BETTING.TOTALS and mlb_betting.spreads")  # DECOY

TableOpt = Annotated[str, typer.Option("--table", help="source table, e.g. mlb_betting.totals")]  # DECOY


@app.command()
def totals(table: TableOpt = "MLB_BETTING.TOTALS", day: str = "today") -> None:  # REF(name) mlb_betting.totals
    rows = execute("SELECT * FROM " + table + " WHERE game_date = %s", (day,))  # DYN
    typer.echo(f"{len(rows)} totals")


@app.command()
def spreads(table: str = typer.Option("Mlb_Betting.Spreads", "--table")) -> None:  # REF(name) mlb_betting.spreads
    if table.lower() == "mlb_betting.spreads":  # REF(name) mlb_betting.spreads
        typer.echo("reading the legacy spreads")
