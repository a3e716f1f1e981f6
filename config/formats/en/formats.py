"""English formats: the shared ones, with a decimal point."""

from config.formats.common import *  # noqa: F403

DECIMAL_SEPARATOR = "."
