"""MLB betting analytics: collectors, repositories, processors and reports."""

__version__ = "2.4.1"
