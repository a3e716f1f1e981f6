"""Spanish formats: the shared ones, with a decimal comma."""

from config.formats.common import *  # noqa: F403

DECIMAL_SEPARATOR = ","
