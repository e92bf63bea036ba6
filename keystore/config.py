"""One settings object, built from ``KEYWARD_*`` environment variables.

Every setting is parsed explicitly and documented in the README.  Tests build
their own with :meth:`Settings.from_env` and keyword overrides.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from keystore.errors import ConfigError, ValidationError
from keystore.ipnets import normalise_rules
from keystore.tokens import is_valid_prefix

MODES = ("embedded", "production")
MIN_PEPPER_LENGTH = 32
_HEADER_NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9-]{0,63}\Z")
# Headers that already mean something else to the gateway endpoints.
_RESERVED_HEADERS = frozenset({"authorization", "cookie", "host", "x-keyward-gateway-token"})
GITHUB_PARTNER_KEYS_URL = "https://api.github.com/meta/public_keys/secret_scanning"


@dataclass(frozen=True)
class Settings:
    mode: str = "embedded"
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    database_url: str = ""
    redis_url: str | None = None
    pepper: str = field(default="", repr=False)
    token_prefix: str = "kw"
    jwt_ttl_seconds: int = 3600
    jwt_private_key_file: str | None = None
    # Keys the configured one replaced: still published and accepted until removed.
    jwt_previous_key_files: tuple[str, ...] = ()
    # External identity providers (OpenID Connect): allowed clock skew, and test-only loopback.
    oidc_clock_skew_seconds: int = 60
    oidc_allow_loopback: bool = False
    log_level: str = "INFO"
    log_format: str = "json"
    max_body_bytes: int = 1024 * 1024
    trusted_proxies: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    client_address_header: str = "X-Forwarded-For"
    gateway_token: str | None = field(default=None, repr=False)
    # Production serves /v1/verify and /v1/auth without a gateway token only if asked to.
    gateway_open: bool = False
    metrics_token: str | None = field(default=None, repr=False)
    # /v1/auth also takes the credential from this header ("" turns it off).
    api_key_header: str = "X-API-Key"
    # A Celery worker's own Prometheus port (the sum of its pool's processes); None: none.
    worker_metrics_port: int | None = None
    # Leak response
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_tls: str = "none"
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_timeout_seconds: int = 10
    mail_from: str = "keyward@localhost"
    public_url: str = "http://127.0.0.1:8080"
    partner_feedback: bool = True
    webhook_max_bytes: int = 16 * 1024 * 1024
    public_revoke_per_hour: int = 60
    sweep_interval_seconds: int = 60
    sweep_after_seconds: int = 120
    task_max_retries: int = 10
    task_visibility_seconds: int = 600
    task_retry_backoff_max_seconds: int = 120
    broker_timeout_seconds: int = 2
    mail_lease_seconds: int = 60
    scan_schedule_seconds: int = 60
    # Periodic refresh: remind this many days before a key reaches its maximum age, checked
    # this often (Celery beat or `keyward serve`'s schedule thread).
    key_refresh_remind_days: int = 7
    key_refresh_check_seconds: int = 3600
    notify_webhook_timeout_seconds: int = 5
    # Test-only: also accept http://127.0.0.1 receivers (a local test server).  Never in production.
    notify_webhook_allow_loopback: bool = False
    # Watched repositories: what may be fetched, and for how long.
    scan_cache_dir: Path | None = None
    scan_timeout_seconds: int = 600
    repo_hosts: tuple[str, ...] = ("github.com", "gitlab.com", "bitbucket.org")
    repo_allow_ssh: bool = False
    repo_allow_local: bool = False
    github_keys_url: str = GITHUB_PARTNER_KEYS_URL
    github_token: str | None = field(default=None, repr=False)
    gitlab_keys_url: str | None = None
    gitlab_token: str | None = field(default=None, repr=False)
    partner_keys_ttl_seconds: int = 3600
    partner_refetch_seconds: int = 60
    # Console and portal session cookies: None means "true in production, false embedded".
    cookie_secure: bool | None = None
    # Console and portal sessions end this long after the last request, and after sign-in.
    session_idle_seconds: int = 30 * 60
    session_max_seconds: int = 12 * 3600
    # The verification fast path: decisions' facts cached per process, pushed invalidation.
    decision_cache: bool = True
    decision_cache_entries: int = 100_000
    # Usage of a request is counted in the process and pushed to Redis this often.
    usage_push_seconds: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Read the environment, apply overrides, fill embedded defaults, validate."""
        env = os.environ if environ is None else environ
        redis_url = env.get("KEYWARD_REDIS_URL") or None
        values = {
            "mode": env.get("KEYWARD_MODE") or ("production" if redis_url else "embedded"),
            "data_dir": Path(env.get("KEYWARD_DATA_DIR") or default_data_dir()),
            "database_url": env.get("KEYWARD_DATABASE_URL", ""),
            "redis_url": redis_url,
            "pepper": env.get("KEYWARD_PEPPER", ""),
            "token_prefix": env.get("KEYWARD_TOKEN_PREFIX") or "kw",
            "jwt_ttl_seconds": _int(env, "KEYWARD_JWT_TTL_SECONDS", 3600),
            "jwt_private_key_file": env.get("KEYWARD_JWT_PRIVATE_KEY_FILE") or None,
            "jwt_previous_key_files": _list(env, "KEYWARD_JWT_PREVIOUS_KEY_FILES", ""),
            "oidc_clock_skew_seconds": _int(env, "KEYWARD_OIDC_CLOCK_SKEW_SECONDS", 60),
            "oidc_allow_loopback": _bool(env, "KEYWARD_OIDC_ALLOW_LOOPBACK", False),
            "log_level": (env.get("KEYWARD_LOG_LEVEL") or "INFO").upper(),
            "log_format": env.get("KEYWARD_LOG_FORMAT") or "json",
            "max_body_bytes": _int(env, "KEYWARD_MAX_BODY_BYTES", 1024 * 1024),
            "trusted_proxies": _list(env, "KEYWARD_TRUSTED_PROXIES", "127.0.0.1/32,::1/128"),
            "client_address_header": env.get("KEYWARD_CLIENT_ADDRESS_HEADER") or "X-Forwarded-For",
            "gateway_token": env.get("KEYWARD_GATEWAY_TOKEN") or None,
            "gateway_open": _bool(env, "KEYWARD_GATEWAY_OPEN", False),
            "metrics_token": env.get("KEYWARD_METRICS_TOKEN") or None,
            "api_key_header": env.get("KEYWARD_API_KEY_HEADER", "X-API-Key").strip(),
            "worker_metrics_port": _int(env, "KEYWARD_WORKER_METRICS_PORT", 0) or None,
            **_leak_settings(env),
            **_scan_settings(env),
            "github_keys_url": env.get("KEYWARD_GITHUB_KEYS_URL") or GITHUB_PARTNER_KEYS_URL,
            "github_token": env.get("KEYWARD_GITHUB_TOKEN") or None,
            "gitlab_keys_url": env.get("KEYWARD_GITLAB_KEYS_URL") or None,
            "gitlab_token": env.get("KEYWARD_GITLAB_TOKEN") or None,
            "partner_keys_ttl_seconds": _int(env, "KEYWARD_PARTNER_KEYS_TTL_SECONDS", 3600),
            "partner_refetch_seconds": _int(env, "KEYWARD_PARTNER_REFETCH_SECONDS", 60),
            "cookie_secure": _bool(env, "KEYWARD_COOKIE_SECURE", None),
            "session_idle_seconds": _int(env, "KEYWARD_SESSION_IDLE_SECONDS", 30 * 60),
            "session_max_seconds": _int(env, "KEYWARD_SESSION_MAX_SECONDS", 12 * 3600),
            "decision_cache": _bool(env, "KEYWARD_DECISION_CACHE", True),
            "decision_cache_entries": _int(env, "KEYWARD_DECISION_CACHE_ENTRIES", 100_000),
            "usage_push_seconds": _int(env, "KEYWARD_USAGE_PUSH_SECONDS", 1),
        }
        values.update(overrides)
        return cls(**values).resolved()

    def resolved(self) -> Settings:
        """Validate, and fill what the embedded mode may create on its own."""
        if self.mode not in MODES:
            raise ConfigError(f"KEYWARD_MODE must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not is_valid_prefix(self.token_prefix):
            raise ConfigError("KEYWARD_TOKEN_PREFIX must match [a-z][a-z0-9]{1,9}")
        if self.jwt_ttl_seconds <= 0:
            raise ConfigError("KEYWARD_JWT_TTL_SECONDS must be positive")
        if not 0 <= self.oidc_clock_skew_seconds <= 600:
            raise ConfigError("KEYWARD_OIDC_CLOCK_SKEW_SECONDS must be between 0 and 600")
        if self.log_format not in ("json", "text"):
            raise ConfigError("KEYWARD_LOG_FORMAT must be json or text")
        if self.smtp_tls not in ("none", "starttls", "ssl"):
            raise ConfigError("KEYWARD_SMTP_TLS must be none, starttls or ssl")
        if not 1 <= self.notify_webhook_timeout_seconds <= 60:
            raise ConfigError("KEYWARD_NOTIFY_WEBHOOK_TIMEOUT_SECONDS must be between 1 and 60")
        if not 0 <= self.key_refresh_remind_days <= 365:
            raise ConfigError("KEYWARD_KEY_REFRESH_REMIND_DAYS must be from 0 to 365")
        if not 10 <= self.key_refresh_check_seconds <= 86400:
            raise ConfigError("KEYWARD_KEY_REFRESH_CHECK_SECONDS must be from 10 to 86400")
        if not 1 <= self.scan_timeout_seconds <= 86400:
            raise ConfigError("KEYWARD_SCAN_TIMEOUT_SECONDS must be from 1 to 86400")
        if self.task_visibility_seconds < 4 or self.broker_timeout_seconds < 1:
            raise ConfigError(
                "KEYWARD_TASK_VISIBILITY_SECONDS must be at least 4 and "
                "KEYWARD_BROKER_TIMEOUT_SECONDS at least 1"
            )
        if self.api_key_header and not _HEADER_NAME_RE.match(self.api_key_header):
            raise ConfigError("KEYWARD_API_KEY_HEADER must be a header name (letters, digits, -)")
        if self.api_key_header.lower() in _RESERVED_HEADERS:
            raise ConfigError(f"KEYWARD_API_KEY_HEADER cannot be {self.api_key_header}")
        if self.worker_metrics_port is not None and not 1 <= self.worker_metrics_port <= 65535:
            raise ConfigError("KEYWARD_WORKER_METRICS_PORT must be a port number (1-65535)")
        if self.max_body_bytes < 1024:
            raise ConfigError("KEYWARD_MAX_BODY_BYTES must be at least 1024")
        if self.session_idle_seconds <= 0 or self.session_max_seconds <= 0:
            raise ConfigError("KEYWARD_SESSION_IDLE_SECONDS and _MAX_SECONDS must be positive")
        if self.decision_cache_entries < 100 or not 1 <= self.usage_push_seconds <= 60:
            raise ConfigError(
                "KEYWARD_DECISION_CACHE_ENTRIES must be at least 100 and "
                "KEYWARD_USAGE_PUSH_SECONDS from 1 to 60"
            )
        try:
            # Stored normalised: ranges such as 10.0.0.1-10.0.0.9 become the CIDRs matched.
            proxies = normalise_rules(list(self.trusted_proxies), field="KEYWARD_TRUSTED_PROXIES")
        except ValidationError as exc:
            raise ConfigError(exc.message) from None
        changes: dict = {}
        if tuple(proxies) != tuple(self.trusted_proxies):
            changes["trusted_proxies"] = tuple(proxies)
        if self.cookie_secure is None:
            changes["cookie_secure"] = self.mode == "production"
        if self.scan_cache_dir is None:
            changes["scan_cache_dir"] = self.data_dir / "repos"
        if not self.database_url:
            changes["database_url"] = f"sqlite:///{(self.data_dir / 'keyward.db').resolve()}"
        if not self.pepper:
            changes["pepper"] = self._embedded_pepper()
        elif len(self.pepper) < MIN_PEPPER_LENGTH:
            raise ConfigError(f"KEYWARD_PEPPER must be at least {MIN_PEPPER_LENGTH} characters")
        return dataclasses.replace(self, **changes) if changes else self

    def _embedded_pepper(self) -> str:
        # Production must never invent its pepper: a new one would silently
        # invalidate every key ever issued.
        if self.mode == "production":
            raise ConfigError("KEYWARD_PEPPER is required in production mode")
        return load_or_create_pepper(self.data_dir / "pepper")

    @property
    def pepper_bytes(self) -> bytes:
        return self.pepper.encode("utf-8")

    @property
    def embedded(self) -> bool:
        return self.redis_url is None


def default_data_dir() -> Path:
    """The platform's per-user data directory (``~/.local/share/keyward`` on Linux).

    One well-known place whatever the current directory: a command run from another
    folder must find the same database and pepper, never start an empty one.
    """
    import platformdirs  # the server extra's; loaded only when KEYWARD_DATA_DIR is unset

    return platformdirs.user_data_path("keyward")


def load_or_create_pepper(path: Path) -> str:
    """Keep the embedded mode's pepper in a file only its owner can read."""
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if len(value) < MIN_PEPPER_LENGTH:
            raise ConfigError(f"the pepper file {path} is damaged (too short)")
        return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def _leak_settings(env: Mapping[str, str]) -> dict:
    port = _int(env, "KEYWARD_SMTP_PORT", 25)
    default_tls = {465: "ssl", 587: "starttls"}.get(port, "none")
    return {
        "smtp_host": env.get("KEYWARD_SMTP_HOST") or None,
        "smtp_port": port,
        "smtp_tls": env.get("KEYWARD_SMTP_TLS") or default_tls,
        "smtp_user": env.get("KEYWARD_SMTP_USER") or None,
        "smtp_password": env.get("KEYWARD_SMTP_PASSWORD") or None,
        "smtp_timeout_seconds": _int(env, "KEYWARD_SMTP_TIMEOUT_SECONDS", 10),
        "mail_from": env.get("KEYWARD_MAIL_FROM") or "keyward@localhost",
        "public_url": (env.get("KEYWARD_PUBLIC_URL") or "http://127.0.0.1:8080").rstrip("/"),
        "partner_feedback": _bool(env, "KEYWARD_PARTNER_FEEDBACK", True),
        "webhook_max_bytes": _int(env, "KEYWARD_WEBHOOK_MAX_BYTES", 16 * 1024 * 1024),
        "public_revoke_per_hour": _int(env, "KEYWARD_PUBLIC_REVOKE_PER_HOUR", 60),
        "sweep_interval_seconds": _int(env, "KEYWARD_SWEEP_INTERVAL_SECONDS", 60),
        "sweep_after_seconds": _int(env, "KEYWARD_SWEEP_AFTER_SECONDS", 120),
        "task_max_retries": _int(env, "KEYWARD_TASK_MAX_RETRIES", 10),
        "task_visibility_seconds": _int(env, "KEYWARD_TASK_VISIBILITY_SECONDS", 600),
        "task_retry_backoff_max_seconds": _int(env, "KEYWARD_TASK_RETRY_BACKOFF_MAX_SECONDS", 120),
        "broker_timeout_seconds": _int(env, "KEYWARD_BROKER_TIMEOUT_SECONDS", 2),
        "mail_lease_seconds": _int(env, "KEYWARD_MAIL_LEASE_SECONDS", 60),
        "scan_schedule_seconds": _int(env, "KEYWARD_SCAN_SCHEDULE_SECONDS", 60),
        "key_refresh_remind_days": _int(env, "KEYWARD_KEY_REFRESH_REMIND_DAYS", 7),
        "key_refresh_check_seconds": _int(env, "KEYWARD_KEY_REFRESH_CHECK_SECONDS", 3600),
        "notify_webhook_timeout_seconds": _int(env, "KEYWARD_NOTIFY_WEBHOOK_TIMEOUT_SECONDS", 5),
        "notify_webhook_allow_loopback": _bool(env, "KEYWARD_NOTIFY_WEBHOOK_ALLOW_LOOPBACK", False),
    }


def _scan_settings(env: Mapping[str, str]) -> dict:
    cache = env.get("KEYWARD_SCAN_CACHE")
    hosts = _list(env, "KEYWARD_REPO_HOSTS", "github.com,gitlab.com,bitbucket.org")
    return {
        "scan_cache_dir": Path(cache) if cache else None,
        "scan_timeout_seconds": _int(env, "KEYWARD_SCAN_TIMEOUT_SECONDS", 600),
        "repo_hosts": tuple(host.lower() for host in hosts),
        "repo_allow_ssh": _bool(env, "KEYWARD_REPO_ALLOW_SSH", False),
        # Test-only: file:// and http(s) to loopback.  Never set it where the API is reachable.
        "repo_allow_local": _bool(env, "KEYWARD_REPO_ALLOW_LOCAL", False),
    }


def _bool(env: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _list(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    raw = env.get(name, default)
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
