import pytest
from sqlalchemy import select

from keystore.errors import ConflictError, NotFoundError, ValidationError
from keystore.models import Client, Role
from keystore.services import admins, catalogue, clients, roles
from keystore.services.catalogue import BUILTIN_ENDPOINTS
from tests.worlds import ACTOR


def test_builtin_admin_endpoints_are_in_the_catalogue(session):
    names = {ep.name for ep in catalogue.list_endpoints(session)}
    assert set(BUILTIN_ENDPOINTS) <= names
    assert catalogue.ensure_builtin_endpoints(session) == 0


def test_default_environments(session):
    envs = {e.tag: e for e in catalogue.list_environments(session)}
    assert set(envs) >= {"dev", "test", "prod"}
    assert envs["dev"].allows_dev_only
    assert not envs["prod"].allows_dev_only
    assert (envs["dev"].leak_action, envs["prod"].leak_action) == ("revoke", "regenerate")


def test_builtin_endpoints_cannot_be_removed(session):
    with pytest.raises(ValidationError):
        catalogue.delete_endpoint(session, actor=ACTOR, name="keyward.keys.write")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"endpoints": ["no.such"]}, "endpoints"),
        ({"endpoints": "orders.list"}, "endpoints"),
        ({"leak_action": "explode"}, "leak_action"),
    ],
)
def test_bad_role_input_changes_nothing(session, world, options, field):
    count = len(roles.list_roles(session))
    with pytest.raises(ValidationError) as info, session.begin_nested():
        roles.create_role(session, actor=ACTOR, **{"name": "new", **options})
    assert info.value.field == field
    assert len(roles.list_roles(session)) == count


def test_duplicate_names_conflict(session, world):
    with pytest.raises(ConflictError):
        roles.create_role(session, actor=ACTOR, name="reader")
    with pytest.raises(ConflictError):
        clients.create_client(session, actor=ACTOR, name="acme", role=None, environments=[])
    with pytest.raises(ConflictError):
        catalogue.create_project(session, actor=ACTOR, name="shop")
    with pytest.raises(ConflictError):
        catalogue.create_environment(session, actor=ACTOR, tag="prod", name="again")


def test_role_rename_to_a_taken_name_conflicts(session, world):
    roles.create_role(session, actor=ACTOR, name="writer")
    with pytest.raises(ConflictError):
        roles.update_role(session, actor=ACTOR, ref="writer", name="reader")
    assert session.scalar(select(Role.name).where(Role.id == world.role.id)) == "reader"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"environments": ["mars"]}, "environments"),
        ({"projects": ["nope"]}, "projects"),
        ({"limits": {"rate_limit": -1, "rate_window_seconds": 1}}, "rate_limit"),
        ({"limits": {"bogus": 1}}, "limits"),
    ],
)
def test_bad_client_input_changes_nothing(session, world, options, field):
    with pytest.raises(ValidationError) as info, session.begin_nested():
        clients.create_client(
            session, actor=ACTOR, **{"name": "new", "role": None, "environments": [], **options}
        )
    assert info.value.field == field
    assert session.scalar(select(Client).where(Client.name == "new")) is None


def test_unknown_role_for_a_client(session, world):
    with pytest.raises(NotFoundError):
        clients.create_client(session, actor=ACTOR, name="n", role="ghost", environments=[])


def test_client_update_and_search(session, world):
    clients.update_client(
        session,
        actor=ACTOR,
        ref="acme",
        description="Acme Inc.",
        contact_email="sec@acme.example",
        limits={"rate_limit": 100, "rate_window_seconds": 60},
    )
    found = clients.list_clients(session, search="SEC@acme")
    assert [c.name for c in found] == ["acme"]
    assert found[0].rate_limit == 100
    with pytest.raises(ValidationError):
        clients.update_client(session, actor=ACTOR, ref="acme", colour="blue")


def test_clients_using_a_role_are_listed_before_deletion(session, world):
    assert [c.name for c in roles.clients_using(session, "reader")] == ["acme"]


def test_environments_and_projects(session):
    env = catalogue.create_environment(session, actor=ACTOR, tag="stage", name="Staging")
    assert env.leak_action == "revoke"
    with pytest.raises(ValidationError):
        catalogue.create_environment(session, actor=ACTOR, tag="Stage!", name="bad")
    catalogue.create_project(session, actor=ACTOR, name="p1")
    catalogue.delete_project(session, actor=ACTOR, name="p1")
    with pytest.raises(NotFoundError):
        catalogue.get_project(session, "p1")


def test_endpoint_declaration_validates_its_http_shape(session):
    ep = catalogue.declare_endpoint(
        session, actor=ACTOR, name="orders.get", method="get", path="/orders/{id}"
    )
    assert (ep.method, ep.path) == ("GET", "/orders/{id}")
    with pytest.raises(ValidationError):
        catalogue.declare_endpoint(session, actor=ACTOR, name="x.y", method="GET", path="orders")
    with pytest.raises(ValidationError):
        catalogue.declare_endpoint(session, actor=ACTOR, name="1bad")


def test_admins(session):
    admin = admins.create_admin(session, actor=ACTOR, name="Ada", email="Ada@Example.com")
    assert admin.email == "ada@example.com"
    admins.create_admin(
        session, actor=ACTOR, name="Bob", email="bob@example.com", notify_leaks=False
    )
    assert [a.email for a in admins.leak_recipients(session)] == ["ada@example.com"]
    with pytest.raises(ConflictError):
        admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")
    with pytest.raises(ValidationError):
        admins.create_admin(session, actor=ACTOR, name="X", email="x")
    admins.update_admin(session, actor=ACTOR, email="bob@example.com", notify_leaks=True)
    admins.delete_admin(session, actor=ACTOR, email="ada@example.com")
    assert [a.email for a in admins.leak_recipients(session)] == ["bob@example.com"]
