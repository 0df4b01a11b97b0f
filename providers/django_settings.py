"""The Django settings of the user API: one settings module, as Django's "Settings" topic has
it, named by DJANGO_SETTINGS_MODULE (`providers.django` sets that default)."""

from __future__ import annotations

from providers import api

DEBUG = False  # errors are the URLconf's JSON error views, never Django's debug pages
# As `startproject` writes it: Django sets the process's TZ from this, and its global default
# (America/Chicago) stamped every log line of a test process six hours off.
TIME_ZONE = "UTC"
# Nothing reads the Host (no CommonMiddleware, no CSRF, no absolute URLs).
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "providers.django"
# No CommonMiddleware: its APPEND_SLASH redirects `/users` to `/users/` (a redirected POST loses
# its body with many clients) and it answers a malformed Host with a 400. No CsrfViewMiddleware:
# a JSON API without cookies or sessions. No SecurityMiddleware or XFrameOptionsMiddleware:
# headers for HTML pages.
MIDDLEWARE: list[str] = []
# A declared body over the limit is RequestDataTooBig when a view reads it (a 413).
DATA_UPLOAD_MAX_MEMORY_SIZE = api.MAX_BODY_BYTES
# No cap of 1000 query parameters (a 400 on the state endpoint): the server's request-line limit
# bounds them.
DATA_UPLOAD_MAX_NUMBER_FIELDS = None
# A 5xx is a bug: its traceback goes to stderr (with DEBUG off, Django's own logging
# configuration shows nothing); 4xx answers are not logged.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False}},
}
