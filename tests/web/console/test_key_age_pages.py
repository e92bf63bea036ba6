"""Periodic refresh in the console: environment and role maximum ages, a key's age on its page."""

from datetime import timedelta

from sqlalchemy import select

from keystore.models import AuditEvent, Environment, Role


def test_an_admin_sets_an_environments_maximum_key_age(console, session, world, issue):
    key, _ = issue()
    page = console.get("/console/environments")
    assert page.status_code == 200
    assert 'id="environment-prod"' in page.text
    assert (
        console.post(
            "/console/environments/prod/max-key-age", {"max_key_age_days": "30"}
        ).status_code
        == 302
    )
    env = session.scalar(select(Environment).where(Environment.tag == "prod"))
    session.refresh(env)
    assert env.max_key_age_days == 30
    shown = console.get(f"/console/keys/{key.id}").text
    expected = (key.tokens[-1].created_at + timedelta(days=30)).strftime("%Y-%m-%d %H:%M UTC")
    assert expected in shown
    assert f"by age {expected[:10]}" in console.get(f"/console/clients/{world.client.id}").text
    refused = console.post("/console/environments/prod/max-key-age", {"max_key_age_days": "0"})
    assert refused.status_code == 422
    assert 'id="max_key_age_days-error"' in refused.text
    assert console.post("/console/environments/prod/max-key-age", {}).status_code == 302
    session.refresh(env)
    assert env.max_key_age_days is None
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "environment")
    ).all()
    assert actions.count("environment.update") == 2


def test_a_role_overrides_the_maximum_key_age_in_its_form(console, session, world):
    form = {"name": "reader", "endpoints": ["orders.list"], "max_key_age_days": "14"}
    assert console.post(f"/console/roles/{world.role.id}", form).status_code == 302
    role = session.get(Role, world.role.id)
    session.refresh(role)
    assert role.max_key_age_days == 14
    assert "14 days" in console.get("/console/roles").text
    form["max_key_age_days"] = "ten"
    refused = console.post(f"/console/roles/{world.role.id}", form)
    assert refused.status_code == 422
    session.refresh(role)
    assert role.max_key_age_days == 14
