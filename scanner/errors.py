"""The scanner's one error class: a short ``reason`` code and a one-line message.

Messages name paths, revisions and hints, never a token.
"""

from __future__ import annotations

import functools

from keystore.errors import KeywardError


class ScanError(KeywardError):
    """A scan could not run: bad input, a failed git command, an unreadable file."""

    error = "scan_failed"
    status = 500

    def __reduce__(self):
        # Worker processes send their errors back pickled: keep the reason code.
        return (functools.partial(type(self), reason=self.reason), (self.message,))
