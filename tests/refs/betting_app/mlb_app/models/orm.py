"""SQLAlchemy models of the tables the dashboard reads."""

from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.orm import declarative_base

Base = declarative_base()
metadata = MetaData()


class Strategy(Base):
    __tablename__ = "strategy_performance"  # REF(name) backtesting.strategy_performance
    __table_args__ = {"schema": "backtesting"}
    id = Column(Integer, primary_key=True)
    name = Column(String)


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = {"schema": "core_betting"}
    id = Column(Integer, primary_key=True)


parsed_games = Table("sbr_parsed_games", metadata, schema="public")  # REF(name) public.sbr_parsed_games
