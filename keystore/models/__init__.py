"""All mapped classes, so ``Base.metadata`` is complete wherever one is imported."""

from keystore.models.audit import AuditEvent
from keystore.models.auth_methods import (
    JWT_KEY_ALGORITHMS,
    ClientJwtKey,
    JwtReplay,
    TrustedIssuer,
)
from keystore.models.base import Base, utcnow
from keystore.models.browser import BrowserSession, SignInThrottle
from keystore.models.catalogue import LEAK_ACTIONS, Endpoint, Environment, Project, Role
from keystore.models.clients import KEY_STATES, ApiKey, Client, KeyToken
from keystore.models.decisions import DecisionEpoch
from keystore.models.incidents import INCIDENT_STATES, ORIGINS, Incident, Notification, Occurrence
from keystore.models.people import CONSOLE_ROLES, Admin
from keystore.models.portal import PortalInvitation, PortalUser
from keystore.models.reminders import KeyAgeReminder
from keystore.models.repositories import ScanFinding, ScanRun, WatchedRepository
from keystore.models.usage import UsageCount
from keystore.models.webhooks import WEBHOOK_KINDS, Webhook

__all__ = [
    "CONSOLE_ROLES",
    "INCIDENT_STATES",
    "JWT_KEY_ALGORITHMS",
    "KEY_STATES",
    "LEAK_ACTIONS",
    "ORIGINS",
    "WEBHOOK_KINDS",
    "Admin",
    "ApiKey",
    "AuditEvent",
    "Base",
    "BrowserSession",
    "Client",
    "ClientJwtKey",
    "DecisionEpoch",
    "Endpoint",
    "Environment",
    "Incident",
    "JwtReplay",
    "KeyAgeReminder",
    "KeyToken",
    "Notification",
    "Occurrence",
    "PortalInvitation",
    "PortalUser",
    "Project",
    "Role",
    "ScanFinding",
    "ScanRun",
    "SignInThrottle",
    "TrustedIssuer",
    "UsageCount",
    "WatchedRepository",
    "Webhook",
    "utcnow",
]
