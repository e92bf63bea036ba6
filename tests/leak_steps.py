"""Both steps of the leak response in one call, as the two tasks run them one after the other."""

from __future__ import annotations

from rotation.context import TaskContext
from rotation.response import Progress, act_on_incident, notify_incident


def handle_incident(ctx: TaskContext, incident_id: int) -> Progress:
    lease = act_on_incident(ctx, incident_id)
    if lease is None:
        return Progress(done=True)
    return notify_incident(ctx, incident_id, lease=lease)
