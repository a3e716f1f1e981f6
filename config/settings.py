"""CellBatch settings: one module, driven by the environment.

Every variable is listed in README.md. Development defaults make ``make run`` work on a fresh
machine; ``CELLBATCH_ENV=production`` turns the defaults into hard requirements (a missing secret
fails at start-up instead of running insecurely). A value that cannot be read (``ture`` for a
boolean, ``5m`` for a number) also fails at start-up, naming the variable, instead of silently
meaning something else.

The module reads top to bottom, each setting assigned once: environment helpers, core, apps,
middleware, database, accounts, REST framework, Celery, security, CellBatch, logging.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from config import deployment
from config.beat import beat_schedule
from config.broker import broker
from config.env import env_bool, env_float, env_int, env_list

# Lets ModelAdmin[Model] and other typed generics be subscripted at run time, not only by mypy.
django_stubs_ext.monkeypatch()

# --- Environment --------------------------------------------------------------------------------
ENVIRONMENT = os.environ.get("CELLBATCH_ENV", "development")
if ENVIRONMENT not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"CELLBATCH_ENV must be development, test or production, not {ENVIRONMENT!r}")
PRODUCTION = ENVIRONMENT == "production"


def required(name: str, development_default: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when CELLBATCH_ENV=production")
    return development_default


# --- Core --------------------------------------------------------------------------------------------
BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CELLBATCH_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = required("DJANGO_SECRET_KEY", deployment.DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
ALLOWED_HOSTS = [h for h in required("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Time: stored in UTC, shown in the facility's zone. Languages: English and Spanish, each user's own
# (AccountState.language, applied by batches.accounts.middleware.UserLanguageMiddleware); catalogues
# in locale/, compiled by scripts/compile_messages.py. Dates and numbers: config/formats (D-i18n-1).
LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en-gb", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = os.environ.get("CELLBATCH_TIME_ZONE", "Europe/Madrid")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = Path(os.environ.get("CELLBATCH_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Email: late-result notifications.
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = Path(os.environ.get("DJANGO_EMAIL_FILE_PATH", VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "cellbatch@localhost")

# --- Apps --------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "config.apps.CellBatchAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Index expressions with an operator class (the prefix-search indexes) need its OpClass.
    "django.contrib.postgres",
    "rest_framework",
    # API tokens: only a hash of each token is stored (the model is batches.ApiToken, below).
    "knox",
    "django_filters",
    "drf_spectacular",
    # Swagger UI's files served from this site (pinned with the package), never from a CDN.
    "drf_spectacular_sidecar",
    "pgtrigger",
    "pghistory",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "batches",
    "qc",
    # Account controls: access log, signer re-check, TOTP (docs/signatures-and-accounts.md).
    "batches.accounts",
]

# --- Middleware --------------------------------------------------------------------------------------
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.middleware.ApiNoStoreMiddleware",
    # Django's, except that a page's own live updates do not renew the idle session.
    "batches.accounts.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # The signed-in user's own language, over the browser's (after authentication, before any view).
    "batches.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "batches.middleware.AuditMiddleware",
    # Makes the request's client known to services that log refusals.
    "batches.accounts.middleware.ClientMiddleware",
    # After another person sets a user's password, that user must change it before anything else.
    "batches.accounts.middleware.PasswordChangeRequiredMiddleware",
    # A POST under /api/ with an Idempotency-Key is answered once; its repeats get the first answer.
    "batches.api.idempotency.IdempotencyMiddleware",
    # django-axes requires its middleware last, so it sees the final response of a refused login.
    "axes.middleware.AxesMiddleware",
]


# --- Database: PostgreSQL only -----------------------------------------------------------------------
def _database() -> dict[str, Any]:
    if os.environ.get("DATABASE_URL"):
        database = dict(dj_database_url.parse(os.environ["DATABASE_URL"]))
    elif PRODUCTION:
        raise ImproperlyConfigured("DATABASE_URL must be set when CELLBATCH_ENV=production")
    else:
        # Imported only without DATABASE_URL: it starts an embedded server, which nothing else needs.
        from config.embedded_postgres import database_settings

        database = database_settings(VAR_DIR)
    database["ATOMIC_REQUESTS"] = False
    database.setdefault("CONN_MAX_AGE", 0)
    # A connection kept open (a worker's, see config.celery) is checked before reuse, so a restarted
    # server costs a reconnection, not a failed task.
    database["CONN_HEALTH_CHECKS"] = True
    return database


DATABASES: dict[str, dict[str, Any]] = {"default": _database()}
# When the login role is not the application's (one URL for owner and application, as in development
# and tests), every connection switches to the role cellbatch_app; migrate runs as the login role.
CELLBATCH_DB_APP_ROLE_SWITCH = env_bool("CELLBATCH_DB_APP_ROLE_SWITCH", True)

# --- Accounts (21 CFR 11.300) ------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_FAILURE_LIMIT = env_int("CELLBATCH_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CELLBATCH_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# 21 CFR 11.300 locks the account (user ID); locking a shared lab terminal by IP would stop every
# colleague at that station, so the IP-based variant of this check is silenced on purpose.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Idle timeout: the session cookie is renewed on every request and dies after this many idle seconds.
SESSION_COOKIE_AGE = env_int("CELLBATCH_IDLE_TIMEOUT_MINUTES", 15) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- REST framework ----------------------------------------------------------------------------------
# The largest request body (bytes) read into memory; larger ones are refused (413 under /api/).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CELLBATCH_MAX_BODY_BYTES", 2_621_440)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that a refused token answers 401 with WWW-Authenticate (not 403).
        "batches.accounts.expiry.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Signed in with a CellBatch role; each view narrows it (writes name their roles).
    "DEFAULT_PERMISSION_CLASSES": ["batches.api.permissions.AnyCellBatchRole"],
    # Bounded nesting, finite numbers (batches.api.parsers); forms for the browsable API.
    "DEFAULT_PARSER_CLASSES": [
        "batches.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "batches.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CellBatch API",
    "DESCRIPTION": "Electronic batch records for an autologous CD133+ cell therapy.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its Swagger UI describe every endpoint: for signed-in users only, from local files.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "BatchStatusEnum": "batches.states.BatchStatus",
        "ApprovalStatusEnum": "batches.models.master.ApprovalStatus",
        "SignatureStatusEnum": "batches.models.signatures.SignatureStatus",
        "LotStatusEnum": "batches.models.materials.LotStatus",
        "EquipmentStatusEnum": "batches.models.equipment.EquipmentStatus",
        "EquipmentKindEnum": "batches.models.equipment.EquipmentKind",
        "OosPhaseEnum": "qc.models.investigations.OosPhase",
        "AdverseEventPhaseEnum": "batches.models.delivery.AdverseEventPhase",
    },
}


# --- Celery ------------------------------------------------------------------------------------------
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = broker(production=PRODUCTION, var_dir=VAR_DIR)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The queue tasks are sent to and workers take them from. Each process of a parallel test run has its
# own (tests/service_plugin.py), so that a worker one of them starts never takes another's tasks.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELLBATCH_CELERY_QUEUE", "celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Every worker (production, `make run`, tests) replaces a pool process after this many tasks, and one
# that holds more than this many kilobytes after a task: ReportLab and pyHanko keep memory between
# builds (bench/soak.py measures the resident memory over 2,000 records).
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 100)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 400_000)
# A worker's pool process keeps its PostgreSQL session from task to task (config.celery): for at most
# this many seconds and, through Celery's own setting, this many tasks (0 and 0: a session per task).
CELLBATCH_WORKER_DB_CONN_MAX_AGE = env_int("CELLBATCH_WORKER_DB_CONN_MAX_AGE", 600)
CELERY_DB_REUSE_MAX = env_int("CELLBATCH_WORKER_DB_REUSE_TASKS", 100)
# Extra task modules a worker imports (comma-separated module paths; the test suite adds its own).
# Our own tasks are found by autodiscovery; a test suite or deployment may name extra task modules.
CELERY_IMPORTS = env_list("CELLBATCH_EXTRA_TASK_MODULES")

# --- Security ----------------------------------------------------------------------------------------
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = 31536000 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every answer (django-csp): scripts only from this site or with the
# request's nonce, never framed. Styles allow inline because Django's admin and our templates use
# style attributes and <style> blocks (docs/decisions.md, D13); no script can be injected through them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        # Swagger UI draws its icons from data: URIs.
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Production refuses to start on insecure values (config/deployment.py), naming each problem; Django's
# own deployment checks are enforced once the apps are loaded (config.apps).
if PRODUCTION:
    deployment.require_secure_settings(globals())

# --- CellBatch ---------------------------------------------------------------------------------------
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "cellbatch-demo-2026")
CELLBATCH_FACILITY_ID = os.environ.get("CELLBATCH_FACILITY_ID", "G1234")
CELLBATCH_PRODUCT_CODE = os.environ.get("CELLBATCH_PRODUCT_CODE", "YA001")
# An entry made this long after the event needs a late-entry reason and is flagged for review.
CELLBATCH_LATE_ENTRY_MINUTES = env_int("CELLBATCH_LATE_ENTRY_MINUTES", 60)

# Accounts: API tokens work this long after they are issued; a beat task logs the end of idle sessions.
CELLBATCH_API_TOKEN_HOURS = env_int("CELLBATCH_API_TOKEN_HOURS", 8)
# django-rest-knox keeps a SHA-512 digest of each token, never the token; our model adds an integer key
# so that the token table is audited like every other GMP table (batches.models.accounts).
KNOX_TOKEN_MODEL = "batches.ApiToken"  # noqa: S105  # a model label, not a secret
# knox's migrations would create its own token table, unused once the model is swapped (and, with a
# foreign key to auth_user that Django does not know of, in the way of flushing a test database).
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {"TOKEN_TTL": timedelta(hours=CELLBATCH_API_TOKEN_HOURS), "AUTH_HEADER_PREFIX": "Token"}
CELLBATCH_SESSION_SWEEP_SECONDS = env_int("CELLBATCH_SESSION_SWEEP_SECONDS", 60)

# Organisation seal: signs PDF batch records and audit checkpoints.
CELLBATCH_ORGANISATION_NAME = os.environ.get("CELLBATCH_ORGANISATION_NAME", "CellBatch Cell Processing Facility")
OTP_TOTP_ISSUER = CELLBATCH_ORGANISATION_NAME
PKI_DIR = VAR_DIR / "pki"
CELLBATCH_SIGNING_KEY = os.environ.get("CELLBATCH_SIGNING_KEY", str(PKI_DIR / "seal-key.pem"))
CELLBATCH_SIGNING_CERT = os.environ.get("CELLBATCH_SIGNING_CERT", str(PKI_DIR / "seal-cert.pem"))
CELLBATCH_SIGNING_CA = os.environ.get("CELLBATCH_SIGNING_CA", str(PKI_DIR / "ca-cert.pem"))
CELLBATCH_SIGNING_KEY_PASSPHRASE = os.environ.get("CELLBATCH_SIGNING_KEY_PASSPHRASE", "")
CELLBATCH_TSA_URL = os.environ.get("CELLBATCH_TSA_URL", "")
# PEM file of the timestamp authority's root certificate(s): verification trusts a B-T timestamp only then.
CELLBATCH_TSA_CA = os.environ.get("CELLBATCH_TSA_CA", "")

# Batch-record documents (batches.release.documents).
CELLBATCH_DOCUMENT_BUILD_SECONDS = env_int("CELLBATCH_DOCUMENT_BUILD_SECONDS", 120)
CELLBATCH_DOCUMENT_MAX_ATTEMPTS = env_int("CELLBATCH_DOCUMENT_MAX_ATTEMPTS", 5)
CELLBATCH_DOCUMENT_REPUBLISH_SECONDS = env_int("CELLBATCH_DOCUMENT_REPUBLISH_SECONDS", 30)
CELLBATCH_DOCUMENT_BUILD_PAUSE_SECONDS = env_float("CELLBATCH_DOCUMENT_BUILD_PAUSE_SECONDS", 0.0)

# Audit trail (docs/audit-trail.md). The statement's own time, not the transaction's start: events of
# one transaction keep their order.
PGHISTORY_CREATED_AT_FUNCTION = "clock_timestamp()"
# How often beat seals new audit events into the hash chain and signs a checkpoint.
CELLBATCH_AUDIT_SEAL_SECONDS = env_int("CELLBATCH_AUDIT_SEAL_SECONDS", 300)
CELLBATCH_AUDIT_VERIFY_SECONDS = env_int("CELLBATCH_AUDIT_VERIFY_SECONDS", 3600)
CELLBATCH_AUDIT_VERIFY_FULL_SECONDS = env_int("CELLBATCH_AUDIT_VERIFY_FULL_SECONDS", 86400)

# Celery beat: after the intervals above, which it reads.
CELERY_BEAT_SCHEDULE = beat_schedule(
    session_sweep=CELLBATCH_SESSION_SWEEP_SECONDS,
    document_republish=CELLBATCH_DOCUMENT_REPUBLISH_SECONDS,
    audit_seal=CELLBATCH_AUDIT_SEAL_SECONDS,
    audit_verify=CELLBATCH_AUDIT_VERIFY_SECONDS,
    audit_verify_full=CELLBATCH_AUDIT_VERIFY_FULL_SECONDS,
    storage_evaluate=env_int("CELLBATCH_STORAGE_EVALUATE_SECONDS", 60),
)

# --- Logging -----------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CELLBATCH_LOG_LEVEL", "INFO")},
    # pgserver logs its own start and stop at INFO, even from atexit handlers after streams close.
    "loggers": {"pgserver": {"level": "WARNING"}},
}
