"""The last line of defence against secrets in logs and error output.

Every process (web, worker, CLI) installs :func:`install_scrubbing` once; every log
record is then redacted at creation, whichever library logs it, so no handler ever
sees a token.  The patterns are wider than the token format's matching rule on
purpose: a log must not hold a token glued to other text (``/keys/Xkw_prod_…``)
either, and a false redaction in a log costs nothing.
"""

from __future__ import annotations

import logging
import re

from keystore.tokens import BODY_LENGTH, ENV_TAG_PATTERN, PREFIX_PATTERN

REDACTED = "[REDACTED]"
_SECRET_RE = re.compile(
    rf"{PREFIX_PATTERN}_{ENV_TAG_PATTERN}_[0-9A-Za-z]{{{BODY_LENGTH}}}"
    # Anything JWT-shaped: a base64url JSON header, a payload and a signature.
    r"|eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
)


def scrub(text: str) -> str:
    """``text`` with every token-shaped and JWT-shaped run replaced by ``[REDACTED]``."""
    return _SECRET_RE.sub(REDACTED, text)


def _scrubbing_factory(original):
    def make_record(*args, **kwargs):
        record = original(*args, **kwargs)
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters reuse a cached exc_text: fill it with the redacted traceback now.
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return record

    make_record.keyward_scrubs = True
    return make_record


def install_scrubbing() -> None:
    """Redact token-shaped text from every log record of the process."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "keyward_scrubs", False):
        logging.setLogRecordFactory(_scrubbing_factory(factory))


class ScrubbingFormatter(logging.Formatter):
    """Redacts the whole formatted line, ``extra`` fields included (they are set after the
    record factory runs, so only the formatter sees them)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))
