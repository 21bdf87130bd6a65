-- DuckDB: the local cache the notebooks use (not PostgreSQL).
-- It mirrors splits.games and mlb_betting.totals (a comment: DECOY).
INSTALL postgres;
LOAD postgres;
CREATE OR REPLACE TABLE splits.games AS SELECT * FROM read_csv_auto('games.csv');  -- REF(unparsed) splits.games
INSERT OR REPLACE INTO MLB_BETTING.TOTALS SELECT * FROM 'totals.parquet';          -- REF(unparsed) mlb_betting.totals
INSERT INTO "splits"."raw_mlb_betting_splits" BY NAME SELECT * FROM staged_splits; -- REF(unparsed) splits.raw_mlb_betting_splits
SELECT * FROM Public.Games USING SAMPLE 10%;                                        -- REF(unparsed) public.games
