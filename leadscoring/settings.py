"""Settings read from the environment.

With nothing set but DEBUG=true (what `make run` and the test suite set) the app runs on SQLite
with Celery tasks executed eagerly, so it works anywhere with Python. DATABASE_URL (postgres://...)
and REDIS_URL (redis://...) switch on the real stack. DEBUG is off unless set, so a deployment
that forgets it gets the production settings (and must set SECRET_KEY), never the debug pages.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

# Django's generic classes (ModelAdmin[Lead], QuerySet[Lead], ...) subscriptable at run time, as
# the type stubs write them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")


def _fail(name: str, problem: str) -> None:
    raise ImproperlyConfigured(f"Bad configuration: {name} {problem}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(name: str, default: bool) -> bool:
    raw = env.str(name, default=str(default)).strip().lower()
    if raw not in _TRUE | _FALSE:
        _fail(name, f"must be one of true/false, 1/0, yes/no, on/off (got {raw!r}).")
    return raw in _TRUE


# Off unless asked for: a forgotten variable must not leave tracebacks and settings on show.
DEBUG = _bool("DEBUG", default=False)

_DEV_SECRET = "dev-only-insecure-key-set-SECRET_KEY-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET)
if not DEBUG and (SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    _fail("SECRET_KEY", "must be set to at least 50 random characters when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_htmx",
    "template_partials",
    "scoring",
    "rules_admin",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "integrations",
    "reports",
    "pipeline",
    "learning",
    "axes",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "leadscoring.urls"
WSGI_APPLICATION = "leadscoring.wsgi.application"

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

# --- Database: SQLite by default, PostgreSQL (psycopg 3) when DATABASE_URL is set.
_database_url = env.str("DATABASE_URL", default="")
if _database_url:
    try:
        _db = environ.Env.db_url_config(_database_url)
    except Exception as exc:  # django-environ raises several types for malformed URLs
        _fail("DATABASE_URL", f"is malformed ({exc}); expected postgres://USER@HOST:PORT/NAME.")
    if _db.get("ENGINE") != "django.db.backends.postgresql":
        _fail("DATABASE_URL", "must be a postgres:// URL (or unset for SQLite).")
    if not _db.get("NAME"):
        _fail("DATABASE_URL", "names no database; expected postgres://USER@HOST:PORT/NAME.")
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
    # JIT compilation pays off for long analytical scans, not for the app's page queries: on
    # the queue it cost more time than the query itself.
    _db.setdefault("OPTIONS", {})["options"] = "-c jit=off"
    DATABASES = {"default": _db}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# SQLite builds the covering indexes (Index.include) as plain ones; only PostgreSQL needs them.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# django-axes' check first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "leadscoring.signin.SignInThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("nl", "Nederlands")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

REST_FRAMEWORK: dict[str, Any] = {  # DRF's settings: values of every kind
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_PARSER_CLASSES": ["scoring.api.parsers.BoundedJSONParser"],
}

# --- REST API, website tracking and outbound webhooks (integrations app).
# Ingestion tokens come first: they are recognised by their prefix and leave other keys to DRF.
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"].insert(
    0, "integrations.authentication.IngestionTokenAuthentication"
)
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
REST_FRAMEWORK["DEFAULT_FILTER_BACKENDS"] = ["django_filters.rest_framework.DjangoFilterBackend"]
# Rate limits (API and tracking beacon) count per client address. X-Forwarded-For is anyone's to
# write, so it is believed only as far as our own proxies wrote it: with NUM_PROXIES proxies in
# front, the client is the address the outermost one saw (that many entries from the right).
# 0, the default, ignores the header and counts the connection's address: without a proxy that
# rewrites it, a made-up header would give each request a fresh bucket.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
if NUM_PROXIES < 0:
    _fail("NUM_PROXIES", "must be 0 (no proxy in front) or the number of proxies in front.")
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="1200/min")
TRACKING_THROTTLE_RATE = env.str("TRACKING_THROTTLE_RATE", default="300/min")
# Anonymous page views of visitors who never identify themselves are kept this long.
TRACKING_ANONYMOUS_RETENTION_DAYS = env.int("TRACKING_ANONYMOUS_RETENTION_DAYS", default=30)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=30)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Webhooks go to public hosts only (integrations/addresses.py); true for a CRM on the network.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = _bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "Lead scoring API",
    "DESCRIPTION": "Leads, accounts, activities, scoring models, scores and handoffs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would send the schema's address to swagger.io (and CSP refuses it).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Celery: eager (in-process) without REDIS_URL, a Redis broker with it.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    _fail("REDIS_URL", "must start with redis://, rediss:// or unix:// (or be unset).")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_TASK_DEFAULT_QUEUE = "default"
# Redis hands an unacknowledged task to another worker after this, whether or not its worker
# still runs it, so it must exceed the longest task (CELERY_TASK_TIME_LIMIT): a running task is
# never delivered twice. It is deliberately long, not a recovery mechanism: the chunks of a
# rescore run lost with a killed worker are sent again by the beat's runs sweep after
# scoring.runs.RUN_STALL_LIMIT; other tasks are idempotent and come back after this.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 30 * 60}
# Installations (or test runs) sharing one Redis keep their queues and cache apart by a prefix.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="")
if REDIS_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# The cache is shared by web and workers (e.g. "a rescore flush is already on its way"), so it
# lives in Redis when there is one; an in-process cache serves the single-process default.
CACHES = {
    "default": (
        {
            "BACKEND": "leadscoring.cache.DegradingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Sessions read from Redis (written through to the database), saving a query on every page;
# never from a per-process memory cache, where a logout would not reach the other processes.
if REDIS_URL:
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Sales queue (pipeline app): hand handoffs without owner round-robin to the sales team
# (off: they wait in the queue to be claimed); a handoff is "due soon" this many hours ahead.
PIPELINE_ROUND_ROBIN = _bool("PIPELINE_ROUND_ROBIN", default=True)
PIPELINE_DUE_SOON_HOURS = env.float("PIPELINE_DUE_SOON_HOURS", default=4.0)

# --- Reports (dashboards): computed figures are kept this long per filter set (0 turns it off);
# beat refreshes the default ones every 4 minutes, so keep this longer than that.
REPORTS_CACHE_SECONDS = env.int("REPORTS_CACHE_SECONDS", default=300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Tasks run in-process without a broker; their per-task lines would drown the console.
    "loggers": {"celery": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {},
}

# --- Browser hardening, in development too (Django's defaults, stated so they stay): no page is
# meant to be framed by another site (the tracking demo page embeds nothing); responses are not
# sniffed into another content type; no script reads the session or the CSRF cookie (forms,
# htmx's included, post the {% csrf_token %} field, and the API browser and Swagger UI take the
# token from the page), so neither is readable from JavaScript.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

# Content security policy (django-csp): our pages run only scripts served by us, plus inline ones
# carrying the request's nonce ({{ request.csp_nonce }}); none of them runs inline event handlers
# or injected <script> elements. Style sheets likewise (the API docs' inline one has the nonce;
# htmx is told not to add its own, see base.html). Inline style *attributes* stay allowed:
# bar widths (what-if panel) and the API browser's templates use them, and they can neither run
# code nor use selectors; style-src-attr keeps that allowance from <style> elements. The
# tracking snippet (static/js/track.js) runs on customers' pages, under their policy, not this.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],  # data: for the blank favicon and the API docs' icons
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],  # as X_FRAME_OPTIONS
    }
}

# --- Sign-in throttling (django-axes), on our sign-in page and the admin's alike: after
# AXES_FAILURE_LIMIT failed attempts (within the cool-off) for the same user name from the same
# client address, that pair is refused for AXES_COOLOFF_MINUTES with a message on the sign-in
# page; what is tried meanwhile is not checked and does not prolong the wait. A guesser is held to
# that many tries per cool-off, and nobody can lock a colleague out from elsewhere;
# AXES_LOCKOUT_PARAMETERS=username counts per user name from anywhere instead (a comma separated
# list of what is counted, each `username`, `ip_address` or both joined by `+`). Attempts are
# kept in the database, not in the cache, so a Redis outage neither lifts nor breaks the
# lockout. An admin lifts one by deleting its access attempt (admin: Axes) or with
# `manage.py axes_reset_username NAME`.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
if AXES_FAILURE_LIMIT < 1:
    _fail("AXES_FAILURE_LIMIT", "must be at least 1 (failed sign-ins before a lockout).")
_axes_cooloff_minutes = env.int("AXES_COOLOFF_MINUTES", default=15)
if _axes_cooloff_minutes < 1:
    _fail("AXES_COOLOFF_MINUTES", "must be at least 1 (minutes a lockout lasts).")
AXES_COOLOFF_TIME = timedelta(minutes=_axes_cooloff_minutes)
AXES_LOCKOUT_PARAMETERS: list[str | list[str]] = []
for _counted in env.list("AXES_LOCKOUT_PARAMETERS", default=["username+ip_address"]):
    _parts = _counted.strip().split("+")
    if not set(_parts) <= {"username", "ip_address"}:
        _fail(
            "AXES_LOCKOUT_PARAMETERS",
            f"has {_counted!r}; expected username, ip_address or username+ip_address.",
        )
    AXES_LOCKOUT_PARAMETERS.append(_parts[0] if len(_parts) == 1 else _parts)
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "registration/login.html"
# The client address as the API's rate limits see it: X-Forwarded-For only behind NUM_PROXIES.
AXES_CLIENT_IP_CALLABLE = "leadscoring.signin.client_address"

# --- HTTPS only with DEBUG off (`manage.py check --deploy` passes).
if not DEBUG:
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = _bool("CSRF_COOKIE_SECURE", default=True)
    # TLS usually ends at a proxy in front, which says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Plain HTTP is redirected to HTTPS; behind a TLS proxy too, thanks to the header above. Off
    # where the proxy redirects by itself or does not send X-Forwarded-Proto (every request would
    # be redirected again), or where the app is served on plain HTTP (docker-compose.yml). It
    # follows the session cookie unless set: cookies allowed over plain HTTP say the site is
    # served that way (the benchmark's gunicorn), where a redirect would leave nothing reachable.
    SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", default=SESSION_COOKIE_SECURE)
    # Browsers that saw the site over HTTPS refuse plain HTTP to it for this long (a year; it
    # cannot be taken back sooner, so try a new host with e.g. 3600 first; 0 sends no header).
    # Subdomains are included, and preload lists are allowed to include the site (which needs
    # both; nothing is listed before someone submits the domain).
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", default=True)
