"""Usage of a client and of a key: requests by outcome over time, drawn server-side."""

from __future__ import annotations

from flask import render_template, request

from keystore.errors import ValidationError
from keystore.services import clients
from keystore.usage import usage_report
from web.charts import buckets, outcome_chart
from web.console import console
from web.console.permissions import needs
from web.runtime import runtime


def granularity() -> str:
    value = request.args.get("granularity", "hour")
    if value not in ("hour", "day"):
        raise ValidationError("granularity must be hour or day", field="granularity")
    return value


def flush_usage() -> None:
    """Fold what is still buffered in first, so the figures (and last use) are current."""
    rt = runtime()
    with rt.unit_of_work() as session:
        rt.usage.flush(session)


def key_chart(session, *, key_id: int):
    step = granularity()
    rows = usage_report(session, key_id=key_id, granularity=step)
    return outcome_chart(rows, labels=buckets(step))


@console.get("/clients/<int:client_id>/usage")
@needs("viewer")
def client_usage(client_id: int):
    step = granularity()
    flush_usage()
    with runtime().unit_of_work() as session:
        client = clients.get_client(session, client_id)
        rows = usage_report(session, client_id=client.id, granularity=step)
        return render_template(
            "console/client_usage.html",
            client=client,
            chart=outcome_chart(rows, labels=buckets(step)),
            granularity=step,
        )
