# ruff: noqa: UP031, UP032 -- the application builds SQL with % and .format: the shapes refs must read
"""When to bet: the timing buckets."""

from mlb_app.db.connection import execute

BUCKETS = "timing_analysis.timing_bucket_performance"  # REF(name) timing_analysis.timing_bucket_performance


class TimingService:
    bucket_table = "TIMING_ANALYSIS.TIMING_BUCKET_PERFORMANCE"  # REF(name) timing_analysis.timing_bucket_performance

    def best(self) -> list[tuple]:
        return execute("SELECT bucket, roi FROM {t} ORDER BY roi DESC LIMIT 3".format(t=BUCKETS))

    def by_hours(self, hours: int) -> list[tuple]:
        return execute(
            f"SELECT * FROM {self.bucket_table} WHERE hours_before = %s",
            (hours,),
        )

    def refresh(self) -> None:
        execute("SELECT 'Public.Sbr_Raw_Html'::regclass")  # REF(sql) public.sbr_raw_html
