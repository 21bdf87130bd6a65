"""`mlb collect|grade|export`: the click command line."""

import click

from mlb_app.db.connection import execute


@click.group()
def cli() -> None:
    """MLB betting tools. Data lives in splits.raw_mlb_betting_splits and friends."""  # DECOY


@cli.command()
@click.option(
    "--table",
    default="splits.raw_mlb_betting_splits",  # REF(name) splits.raw_mlb_betting_splits
    show_default=True,
)
@click.option("--limit", default=100, help="rows to read from splits.raw_mlb_betting_splits")  # DECOY
def export(table: str, limit: int) -> None:
    if table == "splits.raw_mlb_betting_splits":  # REF(name) splits.raw_mlb_betting_splits
        click.echo("exporting the raw splits (splits.raw_mlb_betting_splits)")  # DECOY
    rows = execute(f"SELECT * FROM {table} LIMIT %s", (limit,))  # DYN
    click.echo(f"{len(rows)} rows")


@cli.command()
@click.option("--source", type=click.Choice(["public.games", "core_betting.games"]))  # REF(name) public.games
def grade(source: str) -> None:
    click.secho(f"grading from {source}", fg="green")
