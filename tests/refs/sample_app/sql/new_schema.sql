-- Only the consolidated schemas: nothing to report.
CREATE VIEW analytics.v_games AS
WITH public_games AS (SELECT * FROM core_betting.games)
SELECT id FROM public_games;
SELECT games, moneyline, totals FROM core_betting.betting_lines_moneyline AS totals;
