"""Input files the tests read: copies of what stores export (../shared/samples in the project's
brief), kept in the repository so a clone runs its tests anywhere."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
CUSTOMERS_ZH = str(HERE / "customers_zh.csv")  # 8 rows as a store exports them: 5 good, 3 rejected

CDNOW_SAMPLE = Path(__file__).with_name("cdnow_sample.txt")  # real retail purchases; see README.md
