"""Security sweep: CSRF everywhere, no anonymous or wrong-role writes, deploy checks,
CSP and frame headers, no inline scripts in templates."""

import re
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.ops.conftest import run_probe
from tests.pages_common import DENIED, OK
from tests.test_pages import IGNORED_NAMESPACES, PAGES, PUBLIC, world  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]

# Views that take POSTs without a CSRF token, each because it proves itself another way.
CSRF_EXEMPT_ALLOWED = {
    "messaging:webhook_receipts",  # provider webhooks: a signature or URL token
    "messaging:webhook_inbound",
    "emailsms:mailgun",  # Mailgun's signed inbound route
}
# The REST API: API keys in a header, never the session cookie (checked below).
CSRF_EXEMPT_NAMESPACES = {"api"}


def _patterns(resolver: URLResolver, ns: str = "", route: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in IGNORED_NAMESPACES:
                continue
            inner = f"{ns}{pattern.namespace}:" if pattern.namespace else ns
            yield from _patterns(pattern, inner, route + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield ns + pattern.name, route + str(pattern.pattern), pattern


def test_no_view_is_csrf_exempt_outside_the_allow_list():
    exempt = {
        name
        for name, _, pattern in _patterns(get_resolver())
        if getattr(pattern.callback, "csrf_exempt", False)
    }
    unexpected = {
        name
        for name in exempt - CSRF_EXEMPT_ALLOWED
        if name.split(":")[0] not in CSRF_EXEMPT_NAMESPACES
    }
    assert unexpected == set()


def test_the_api_never_authenticates_with_the_session_cookie():
    classes = getattr(settings, "REST_FRAMEWORK", {}).get("DEFAULT_AUTHENTICATION_CLASSES", [])
    assert not [c for c in classes if "Session" in c or "Basic" in c]


class _Forms(HTMLParser):
    """Collects each <form method=post> and whether it holds a CSRF token field."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._open = {"action": attrs.get("action", ""), "token": False}
            self.forms.append(self._open)
        elif tag == "input" and self._open and attrs.get("name") == "csrfmiddlewaretoken":
            self._open["token"] = bool(attrs.get("value"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def _viewer(expected: dict) -> str | None:
    """The role that sees most of a page: admin when allowed, else any role allowed."""
    allowed = [role for role, status in expected.items() if status == OK]
    return "admin" if "admin" in allowed else (allowed[0] if allowed else None)


def _body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.django_db
def test_every_post_form_on_every_page_carries_a_csrf_token(client, world):  # noqa: F811
    missing, checked = [], 0
    for name, kwargs, expected in PAGES:
        role = _viewer(expected)
        if role is None:
            continue
        client.force_login(world[role])
        url = reverse(name, kwargs=kwargs(world) if kwargs else None)
        response = client.get(url)
        if "html" not in response.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(_body(response).decode())
        checked += len(parser.forms)
        missing += [f"{url} form action={f['action']!r}" for f in parser.forms if not f["token"]]
    assert checked > 20  # the table's pages do have forms
    assert missing == []


def _fill(route: str) -> str:
    """A URL for a pattern with made-up arguments (the view must refuse before looking)."""
    fills = {"int": "987654", "uuid": str(uuid.uuid4()), "slug": "x", "str": "x", "path": "x"}

    def one(match: re.Match) -> str:
        return fills.get(match.group(1) or "str", "x")

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", one, route)


# Counted before and after the anonymous POSTs: none may change a product table.
PRODUCT_APPS = {
    "smsworks",
    "contacts",
    "messaging",
    "campaigns",
    "inbox",
    "api",
    "integrations",
    "emailsms",
    "audit",
}


def _row_counts() -> dict[str, int]:
    models = [m for m in apps.get_models() if m._meta.app_label in PRODUCT_APPS]
    models.append(apps.get_model("auth", "User"))
    return {m._meta.label: m.objects.count() for m in models if m._meta.managed}


LOGIN_ITSELF = {"login"}  # takes anonymous POSTs by design


@pytest.mark.django_db
def test_anonymous_posts_change_nothing_anywhere(client, world):  # noqa: F811
    urls = {}
    for name, kwargs, _ in PAGES:
        urls[name] = reverse(name, kwargs=kwargs(world) if kwargs else None)
    for name, route, _ in _patterns(get_resolver()):
        if name not in urls and name not in LOGIN_ITSELF:
            urls[name] = _fill(route)
    before = _row_counts()
    wrong = []
    for name, url in sorted(urls.items()):
        response = client.post(url, {"name": "x", "body": "x", "phone": "+447700900123"})
        status = response.status_code
        if name in PUBLIC:
            # Signature- or key-checked URLs: refused, unknown, or a harmless redirect.
            ok = status in {302, 400, 401, 403, 404, 405, 406}
        else:
            ok = status == 405 or (status == 302 and response.url.startswith(reverse("login")))
        if not ok:
            wrong.append(f"{name} {url} -> {status}")
    assert wrong == []
    assert _row_counts() == before


@pytest.mark.django_db
def test_a_role_denied_a_page_gets_403_on_post_too(client, world):  # noqa: F811
    # The kwargs builders make rows (a draft campaign, an endpoint): build every URL first.
    posts = [
        (role, reverse(name, kwargs=kwargs(world) if kwargs else None))
        for name, kwargs, expected in PAGES
        for role, status in expected.items()
        if status == DENIED
    ]
    before = _row_counts()
    wrong = []
    for role, url in posts:
        client.force_login(world[role])
        response = client.post(url, {"name": "x", "body": "x"})
        if response.status_code != 403:
            wrong.append(f"{role} POST {url} -> {response.status_code}")
    assert wrong == []
    assert _row_counts() == before


def test_check_deploy_is_clean_in_production(production_run):
    assert production_run.returncode == 0, production_run.stdout + production_run.stderr


def test_production_settings_are_secure_and_configurable_for_a_proxy(production_run):
    assert production_run.settings == [
        True,
        True,
        True,
        31536000,
        "DENY",
        ["HTTP_X_FORWARDED_PROTO", "https"],
    ]
    relaxed = run_probe(
        SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0", SECURE_PROXY_SSL_HEADER="false"
    )
    assert relaxed.returncode == 0, relaxed.stderr
    assert relaxed.settings == [False, True, True, 0, "DENY", None]


@pytest.mark.django_db
def test_pages_carry_the_csp_and_refuse_framing(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("dashboard"))
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
# type="application/json" data islands (json_script) are data, not code: CSP allows them.
DATA_ISLAND = re.compile(r"<script[^>]*type=\"application/(?:ld\+)?json\"", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"href\s*=\s*[\"']\s*javascript:", re.I)


def test_templates_have_no_inline_scripts_or_handlers():
    found = []
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            if ".venv" in path.parts:
                continue
            text = path.read_text()
            for match in INLINE_SCRIPT.finditer(text):
                if not DATA_ISLAND.match(match.group(0)):
                    found.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
            found += [f"{path.relative_to(ROOT)}: on* handler" for _ in HANDLER.finditer(text)]
            found += [f"{path.relative_to(ROOT)}: javascript: URL" for _ in JS_URL.finditer(text)]
    assert found == []
