"""The secret-scanning partners Keyward accepts alerts from, declared once, as data.

Everything that differs between partners is here: the route name, the header
names (matched case-insensitively), where the keys URL and the optional API
token come from in the settings, and the token type names we registered.  The
web door, the signature check and the docs all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from keystore.config import Settings

# The type name we register with partners; they have been seen swapping names, so the
# token itself decides, and this is only what we answer in the feedback when none is sent.
TOKEN_TYPE = "keyward_api_token"


@dataclass(frozen=True)
class Partner:
    """One partner: ``POST /v1/secret-scanning/<name>`` with its signature headers."""

    name: str
    title: str
    identifier_header: str
    signature_header: str
    # Attribute names on :class:`keystore.config.Settings`.
    keys_url_setting: str
    token_setting: str
    token_types: tuple[str, ...] = (TOKEN_TYPE,)

    def keys_url(self, settings: Settings) -> str | None:
        return getattr(settings, self.keys_url_setting)

    def api_token(self, settings: Settings) -> str | None:
        return getattr(settings, self.token_setting)


GITHUB = Partner(
    name="github",
    title="GitHub secret-scanning partner alert (signed JSON batch)",
    identifier_header="Github-Public-Key-Identifier",
    signature_header="Github-Public-Key-Signature",
    keys_url_setting="github_keys_url",
    token_setting="github_token",
)
# GitLab publishes no fixed keys URL ("the endpoint can be provided on request"),
# so its source must be configured; without a URL it knows no keys.
GITLAB = Partner(
    name="gitlab",
    title="GitLab secret-detection partner alert (signed JSON batch)",
    identifier_header="Gitlab-Public-Key-Identifier",
    signature_header="Gitlab-Public-Key-Signature",
    keys_url_setting="gitlab_keys_url",
    token_setting="gitlab_token",
)
# Order matters where headers of both are present: the first wins.
PARTNERS: tuple[Partner, ...] = (GITHUB, GITLAB)
