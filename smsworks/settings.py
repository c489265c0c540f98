"""Django settings for smsworks. Every value that differs between installs comes
from the environment (see .env.example); smsworks.config does the reading."""

import os
from pathlib import Path

import environ
from celery.schedules import crontab  # noqa: F401 - available to beat schedules below
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from smsworks.config import BASE_DIR, VAR_DIR, ConfigError, load

if os.environ.get("SMSWORKS_IGNORE_DOTENV") != "1":
    environ.Env.read_env(BASE_DIR / ".env")

try:
    CONFIG = load(os.environ)
except ConfigError as exc:
    raise ImproperlyConfigured(str(exc)) from exc

DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key
ALLOWED_HOSTS = CONFIG.allowed_hosts
CSRF_TRUSTED_ORIGINS = CONFIG.csrf_trusted_origins
SITE_URL = CONFIG.site_url

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "django_celery_beat",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "smsworks",
    "contacts",
    "messaging",
    "campaigns",
    "inbox",
    "api",
    "integrations",
    "emailsms",
    "audit",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so that it sees the authenticated user and the final response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "smsworks.urls"
WSGI_APPLICATION = "smsworks.wsgi.application"

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
                "smsworks.context_processors.navigation",
                "inbox.context_processors.unread",
            ],
        },
    }
]

DATABASES = {"default": CONFIG.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

if os.environ.get("SMSWORKS_FAST_PASSWORD_HASHER") == "1":
    # Test runs only (set by tests/backends_plugin.py): hashing dominates user fixtures.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = CONFIG.time_zone
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")
# WhiteNoise serves from STATIC_ROOT (filled by collectstatic in production) and
# from the finders in development; it only warns when the folder is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

for _name, _value in CONFIG.email.items():
    globals()[_name] = _value
SERVER_EMAIL = CONFIG.email["DEFAULT_FROM_EMAIL"]

# Phone numbers written without a country code are read in this region.
PHONE_DEFAULT_REGION = CONFIG.default_region

# --- Login throttling (django-axes) ---
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# --- Security ---
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (docs/production.md).
    # SECURE_SSL_REDIRECT=false when the proxy already redirects, or for plain-HTTP tests.
    SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "true").lower() == "true"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "true").lower() == "true"
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = os.environ.get("SECURE_HSTS_PRELOAD", "false").lower() == "true"
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a commitment for the whole domain: opt in, not a warning.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    if os.environ.get("SECURE_PROXY_SSL_HEADER", "true").lower() == "true":
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The load balancer's health probe arrives over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]
# The audit log keeps the client's address: behind a proxy, name the header it sets
# (e.g. HTTP_X_REAL_IP); empty: REMOTE_ADDR.
AUDIT_CLIENT_IP_HEADER = os.environ.get("AUDIT_CLIENT_IP_HEADER", "")
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The campaign counts' covering index (INCLUDE cost) is PostgreSQL's; SQLite
    # builds the same index without the included column, which is all it can do.
    SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "models.W040"]

# Content-Security-Policy (django-csp): scripts only from our own static files, no
# inline scripts or on* handlers (pages use data- attributes, see static/js/smsworks.js).
# Inline style attributes stay allowed: they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Redis and the cache (shared by web and workers) ---
REDIS_URL = CONFIG.redis_url
# Keeps several installs (or test runs) apart on one Redis: broker, cache and buckets.
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            # The key prefix also keeps test runs apart here (a folder each).
            "LOCATION": str(VAR_DIR / "cache" / (REDIS_KEY_PREFIX.strip(":") or "default")),
        }
    }

# --- The SMS engine ---
# Where providers post receipts and inbound texts (defaults to SITE_URL).
MESSAGING_WEBHOOK_BASE_URL = os.environ.get("MESSAGING_WEBHOOK_BASE_URL", "") or SITE_URL
# Short links in campaign texts: a short domain of your own (carriers filter public shorteners).
SHORT_LINK_BASE_URL = os.environ.get("SHORT_LINK_BASE_URL", "") or f"{SITE_URL}/l"
# A claimed message not answered within this many seconds is reconciled.
MESSAGING_SENDING_LEASE_SECONDS = int(os.environ.get("MESSAGING_SENDING_LEASE_SECONDS", "120"))
MESSAGING_MAX_ATTEMPTS = 8
# How long one dispatch task keeps sending before it hands over to a fresh task.
MESSAGING_DISPATCH_SECONDS = 20.0
MESSAGING_STOP_REPLY = os.environ.get(
    "MESSAGING_STOP_REPLY",
    "You have been unsubscribed and will get no more messages. Reply START to resubscribe.",
)
MESSAGING_START_REPLY = os.environ.get(
    "MESSAGING_START_REPLY", "You are subscribed again. Reply STOP to unsubscribe."
)
MESSAGING_HELP_REPLY = os.environ.get(
    "MESSAGING_HELP_REPLY", "smsworks: reply STOP to unsubscribe, START to resubscribe."
)
# Dotted paths of callables taking an inbound Message: the inbox registers here.
MESSAGING_INBOUND_HANDLERS: list[str] = ["inbox.handlers.on_inbound"]

# --- Email-to-SMS (emailsms/, docs/email-to-sms.md) ---
# Mail to <number>@EMAIL_TO_SMS_DOMAIN from an allowed sender becomes a text.
EMAIL_TO_SMS_DOMAIN = os.environ.get("EMAIL_TO_SMS_DOMAIN", "") or "sms.localhost"
EMAIL_TO_SMS_SMTP_HOST = os.environ.get("EMAIL_TO_SMS_SMTP_HOST", "") or "127.0.0.1"
EMAIL_TO_SMS_SMTP_PORT = int(os.environ.get("EMAIL_TO_SMS_SMTP_PORT", "") or "2525")
EMAIL_TO_SMS_MAX_SEGMENTS = int(os.environ.get("EMAIL_TO_SMS_MAX_SEGMENTS", "") or "6")
EMAIL_TO_SMS_MAX_RECIPIENTS = 10
EMAIL_TO_SMS_MAX_MAIL_BYTES = 5 * 1024 * 1024
# An SMS reply is mailed back when the number was texted from an email within this many days.
EMAIL_TO_SMS_REPLY_DAYS = int(os.environ.get("EMAIL_TO_SMS_REPLY_DAYS", "") or "7")
# Mailgun's HTTP webhook signing key, for its inbound route (empty: the endpoint refuses all).
MAILGUN_WEBHOOK_SIGNING_KEY = os.environ.get("MAILGUN_WEBHOOK_SIGNING_KEY", "")
MESSAGING_INBOUND_HANDLERS.append("emailsms.handlers.on_inbound")

# --- Celery ---
# Tasks are only triggers: the database is the queue of record, so a lost task
# message loses no work. acks_late is therefore off by default and switched on per
# task only where a claim guard makes a second run harmless.
CELERY_BROKER_URL = CONFIG.broker_url
if CONFIG.broker_is_embedded:
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    if REDIS_KEY_PREFIX:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 600
CELERY_TASK_SOFT_TIME_LIMIT = 540
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [
    # transactional: one-off sends (inbox replies, API, OTP) never wait behind bulk.
    Queue("transactional", Exchange("transactional"), routing_key="transactional"),
    Queue("bulk", Exchange("bulk"), routing_key="bulk"),
    Queue("default", Exchange("default"), routing_key="default"),
]
CELERY_BEAT_SCHEDULE = {
    "messaging-dispatch-due": {"task": "messaging.dispatch_due", "schedule": 2.0},
    "messaging-apply-receipts": {"task": "messaging.apply_receipts", "schedule": 2.0},
    "messaging-reconcile": {"task": "messaging.reconcile_leases", "schedule": 15.0},
    "messaging-inbound-sweep": {"task": "messaging.inbound_sweep", "schedule": 30.0},
    "campaigns-tick": {"task": "campaigns.tick", "schedule": 5.0},
    "inbox-tick": {"task": "inbox.tick", "schedule": 15.0},
    "integrations-deliver-due": {"task": "integrations.deliver_due", "schedule": 15.0},
    "emailsms-replies": {"task": "emailsms.replies_due", "schedule": 30.0},
    "api-purge": {"task": "api.purge", "schedule": 3600.0},
}

# --- REST API (api/, docs/api.md) ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttle.ApiKeyRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.RememberingContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # ASCII-escaped JSON: an echoed lone surrogate from a client cannot break encoding.
    "UNICODE_JSON": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "smsworks API",
    "DESCRIPTION": "Send SMS, manage contacts and campaigns, one-time passwords. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Heartbeats on every queue: /health/ and /ops/ see beat and a worker per queue.
CELERY_BEAT_SCHEDULE.update(
    {
        f"ops-heartbeat-{_queue}": {
            "task": "ops.heartbeat",
            "schedule": 10.0,
            "args": (_queue,),
            "options": {"queue": _queue, "expires": 30},
        }
        for _queue in ("transactional", "bulk", "default")
    }
)
# A heartbeat older than this many seconds means beat or a queue's workers are down.
OPS_HEARTBEAT_MAX_AGE = int(os.environ.get("OPS_HEARTBEAT_MAX_AGE", "60"))

# LOG_FORMAT=json (the default without DEBUG): one JSON object per line, for log
# shippers; message_uuid(s) passed in `extra` become fields (smsworks/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json").lower()
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "smsworks.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
