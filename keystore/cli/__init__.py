"""``keyward`` commands for the store.  Each command is one transaction.

Bad input ends in a one-line ``error: ...`` on stderr (with ``--json``, one JSON
object) and exit status 1, and nothing is changed; usage mistakes exit with 2
(click's convention).  ``web.cli`` lists the commands and imports each on first use.
"""
