"""``keyward`` commands for the store.  Each command is one transaction.

Bad input ends in a one-line ``error: ...`` on stderr and exit status 1, and
nothing is changed; usage mistakes exit with 2 (click's convention).
"""

from keystore.cli.auth_methods import issuer_group, jwt_key_group, signing_key_group
from keystore.cli.base import KeywardGroup, pass_context
from keystore.cli.catalogue import endpoint_group, env_group, project_group
from keystore.cli.clients import client_group, role_group
from keystore.cli.keys import audit_command, check_command, key_group
from keystore.cli.people import admin_group
from keystore.cli.policies import collection_group, policy_group
from keystore.cli.schema import migrate_command

__all__ = ["KeywardGroup", "pass_context", "register"]

COMMANDS = (
    migrate_command,
    env_group,
    project_group,
    endpoint_group,
    role_group,
    collection_group,
    policy_group,
    client_group,
    key_group,
    admin_group,
    audit_command,
    check_command,
    jwt_key_group,
    issuer_group,
    signing_key_group,
)


def register(group) -> None:
    """Attach the store's commands to the top-level ``keyward`` group."""
    for command in COMMANDS:
        group.add_command(command)
