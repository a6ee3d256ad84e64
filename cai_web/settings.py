"""Settings for cai_web, read from the environment.

Every variable has a safe local default (the embedded mode: SQLite and a
filesystem Celery broker under ``var/``); production sets ``DATABASE_URL`` and
``CELERY_BROKER_URL``. The README lists every variable.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """Read a string; ``NAME_FILE`` (a path) wins so secrets can come from files."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


VAR_DIR = Path(env_str("CAI_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    # Local use only: a per-checkout key kept under var/ so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()

SECURE = env_bool("SECURE", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "template_partials",
    "django_htmx",
    "cai_web",
    "constitutions",
    "training",
    "labelling",
    "ninja",
    "api",
    "axes",
    "csp",
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
    "cai_web.middleware.HtmxLoginRequiredMiddleware",
    "cai_web.middleware.method_not_allowed_page",
    "csp.middleware.CSPMiddleware",
    # Last, so it answers a locked-out login with its own page (docs/security.md).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cai_web.urls"
WSGI_APPLICATION = "cai_web.wsgi.application"
ASGI_APPLICATION = "cai_web.asgi.application"

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
                "cai_web.context_processors.teams",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'cai_web.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Same as Django's, plus a flush that honours the immutability triggers' guard.
    DATABASES["default"]["ENGINE"] = "cai_web.db.sqlite3"
    # WAL + a busy timeout let the web server and the embedded worker share the file.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_cai_web.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out (username, address) before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"

# --- Login throttling (django-axes; docs/security.md) --------------------------------
# A (username, client address) pair is locked out after CAI_LOGIN_FAILURE_LIMIT wrong
# passwords for CAI_LOGIN_COOLOFF_SECONDS; another address can still log in as that
# user, so a stranger cannot lock a member out. Each try during the lockout restarts it.
AXES_FAILURE_LIMIT = env_int("CAI_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("CAI_LOGIN_COOLOFF_SECONDS", 900))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "cai_web.lockout.lockout_response"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files need `collectstatic` (the Docker image runs it);
        # the embedded mode and the tests serve the source files through whitenoise.
        "BACKEND": env_str(
            "STATICFILES_BACKEND",
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if SECURE
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}
# Serve straight from STATICFILES_DIRS when collectstatic has not run (local and tests).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
WHITENOISE_MANIFEST_STRICT = False

DATA_UPLOAD_MAX_MEMORY_SIZE = 60 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 60 * 1024 * 1024

# Security: strict by default behind TLS, relaxed for the local embedded mode.
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp; docs/security.md): scripts and style sheets only
# from this site (htmx and the charts are vendored under static/), no inline script
# and no eval (htmx's hx-on is not used), no framing, forms post only here. Inline
# style *attributes* stay allowed: the progress bars' widths and the SVG charts use them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Celery -------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange bindings; kombu's default is ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Longer than the longest run: a GPU job is not redelivered while it still works.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 7 * 24 * 3600)
    }
CELERY_BEAT_SCHEDULE = {
    # Every 15 s: with the 60 s stale threshold a dead worker's shard is re-queued
    # within about 75 s of its last beat.
    "reap-stale-runs": {"task": "training.reap_stale_runs", "schedule": 15.0},
    # Imports and exports whose worker died (same heartbeat and threshold).
    "reap-stale-file-jobs": {"task": "labelling.reap_stale_file_jobs", "schedule": 15.0},
}

# --- Work and models ----------------------------------------------------------------
MODELS_DIR = Path(env_str("CAI_MODELS_DIR", str(VAR_DIR / "models")))
ARTIFACTS_DIR = Path(env_str("CAI_ARTIFACTS_DIR", str(VAR_DIR / "artifacts")))
# Folders under which teams may register local models (a team's own uploads live in
# MODELS_DIR/teams/<slug>/; run artifacts are never registrable by path).
MODEL_ROOTS = [Path(p) for p in env_list("CAI_MODEL_ROOTS", str(MODELS_DIR))]
# OpenAI-compatible model servers the workers may call although they resolve to a
# private or loopback address ("host" or "host:port"); public hosts need no entry.
ALLOWED_MODEL_HOSTS = env_list("CAI_ALLOWED_MODEL_HOSTS", "")
# Models a worker keeps loaded at once (least recently used out).
WORKER_RESIDENT_MODELS = env_int("CAI_WORKER_RESIDENT_MODELS", 2)
SHARED_DATA_DIR = Path(env_str("CAI_SHARED_DATA", str(BASE_DIR.parent / "shared" / "data")))
# A running shard beats every CAI_HEARTBEAT_SECONDS from a thread of its own, even in
# the middle of a long batch; one silent for CAI_HEARTBEAT_STALE_SECONDS is re-queued.
RUN_HEARTBEAT_SECONDS = env_int("CAI_HEARTBEAT_SECONDS", 15)
RUN_HEARTBEAT_STALE_SECONDS = env_int("CAI_HEARTBEAT_STALE_SECONDS", 60)

# --- API (docs/api.md) ----------------------------------------------------------------
# Requests per token per window (0: no limit); counted on the token row, so the limit
# holds across every web process sharing the database.
API_RATE_LIMIT = env_int("CAI_API_RATE_LIMIT", 600)
API_RATE_WINDOW = env_int("CAI_API_RATE_WINDOW", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Axes logs every login and logout at INFO; failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
    },
}
