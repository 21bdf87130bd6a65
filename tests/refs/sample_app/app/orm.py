"""Names of legacy tables outside SQL text."""

from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.orm import declarative_base

from table_registry import get_table_registry

metadata = MetaData()
totals = Table("totals", metadata, Column("id", Integer), schema="mlb_betting")  # REF mlb_betting.totals
new_totals = Table("betting_lines_totals", metadata, Column("id", Integer), schema="core_betting")
Base = declarative_base()


class Teams(Base):
    __tablename__ = "dim_teams"  # REF action.dim_teams
    __table_args__ = {"schema": "action"}
    id = Column(Integer, primary_key=True)


ROLLBACK = get_table_registry().get_table("legacy_games")  # REF public.games
