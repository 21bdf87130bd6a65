"""Exports the scraped SBR pages for the parser team."""

import csv
import sys

from mlb_app.db.connection import execute


def export(path: str) -> None:
    rows = execute(
        "select id, url, html from public.sbr_raw_html where parsed = false"  # REF(sql) public.sbr_raw_html
    )
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    print("exported public.sbr_raw_html to", path)  # DECOY


def mark(ids: list[int]) -> None:
    execute(
        "Update public.sbr_parsed_games Set exported = true Where id = Any(%s)",  # REF(sql) public.sbr_parsed_games
        (ids,),
    )


if __name__ == "__main__":
    export(sys.argv[1])
