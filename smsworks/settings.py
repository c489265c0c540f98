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
if not DEBUG:
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "true").lower() == "true"
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

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
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
