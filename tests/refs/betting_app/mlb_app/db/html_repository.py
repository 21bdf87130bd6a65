"""Scraped SBR pages; the base class builds the SQL from `table_name` (another module)."""

from mlb_app.db.base_repository import BaseRepository


class HtmlRepository(BaseRepository):
    table_name = "sbr_raw_html"  # REF(name) public.sbr_raw_html
    title = "sbr_raw_html"  # DECOY (a word, not held as a table)


class ParsedRepository(BaseRepository):
    table_name = "SBR_PARSED_GAMES"  # REF(name) public.sbr_parsed_games
    key = "sbr_id"
