"""The webhook store: sealed URL and secret, bounded count, recipients of each incident."""

import pytest

from keystore.errors import LimitError, StateError
from keystore.models import Webhook
from keystore.services import webhooks
from tests.worlds import ACTOR


def test_url_and_secret_are_sealed_and_open_again(session, settings):
    url = "https://93.184.215.14/services/T000/B000/XXXX"
    hook, secret = webhooks.create_webhook(
        session, settings, actor=ACTOR, name="pager", kind="json", url=url
    )
    stored = session.get(Webhook, hook.id)
    assert b"XXXX" not in stored.url_sealed
    assert stored.url_display == "https://93.184.215.14/…"
    assert webhooks.open_url(stored, settings) == url
    assert webhooks.open_secret(stored, settings) == secret


def test_sealed_values_cannot_be_swapped_between_webhooks(session, settings):
    first, _ = webhooks.create_webhook(
        session, settings, actor=ACTOR, name="a", kind="json", url="https://93.184.215.14/a"
    )
    second, _ = webhooks.create_webhook(
        session, settings, actor=ACTOR, name="b", kind="json", url="https://93.184.215.14/b"
    )
    second.url_sealed = first.url_sealed
    with pytest.raises(StateError, match="cannot be opened"):
        webhooks.open_url(second, settings)


def test_the_number_of_webhooks_is_bounded(session, settings):
    for n in range(webhooks.MAX_WEBHOOKS):
        webhooks.create_webhook(
            session, settings, actor=ACTOR, name=f"h{n}", kind="slack", url="https://93.184.215.14/"
        )
    with pytest.raises(LimitError):
        webhooks.create_webhook(
            session,
            settings,
            actor=ACTOR,
            name="one more",
            kind="slack",
            url="https://93.184.215.14/",
        )
