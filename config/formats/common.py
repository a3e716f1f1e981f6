"""Date and number formats shared by every language (decision D-i18n-1): ISO dates, 24-hour clock,
the zone's name after a time, SI digit groups. Django's admin and ``{{ value }}`` use them; the
explicit helpers are in ``batches/formatting.py``."""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "Y-m"
MONTH_DAY_FORMAT = "m-d"
FIRST_DAY_OF_WEEK = 1
# U+202F NARROW NO-BREAK SPACE, used only where a template asks for grouping.
THOUSAND_SEPARATOR = "\u202f"
NUMBER_GROUPING = 3
