"""Security headers on every response of the process: API, FHIR, web pages, errors and 404s.

A pure ASGI middleware around the whole application. It adds a header only where the response
has none, so the web application's own policy (app/web/app.py, a page CSP) stays as it is. The API
answers JSON, PDF and images: its policy forbids everything (nothing to run, nothing to frame).
The Swagger UI page at /docs (and ReDoc at /redoc) loads its script and style from the jsDelivr
CDN and starts with an inline script: those pages get a policy naming exactly that CDN and the
SHA-256 of their inline scripts, computed from the page itself.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
CDN = "https://cdn.jsdelivr.net"
# Swagger UI: bundle and stylesheet from the CDN, inline style attributes set by its own code,
# icons as data: URIs, FastAPI's favicon, the OpenAPI document fetched from this server.
DOCS_CSP = ("default-src 'none'; script-src {hashes} " + CDN + "; style-src 'unsafe-inline' " + CDN +
            "; img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
# ReDoc: its bundle from the CDN runs a web worker from a blob, styles inline (styled-components),
# fonts from Google Fonts.
REDOC_CSP = ("default-src 'none'; script-src {hashes} " + CDN + "; worker-src blob:; "
             "style-src 'unsafe-inline' https://fonts.googleapis.com; font-src https://fonts.gstatic.com; "
             "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; connect-src 'self'; "
             "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
DOC_PAGES = {"/docs": DOCS_CSP, "/docs/oauth2-redirect": DOCS_CSP, "/redoc": REDOC_CSP}
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
HSTS = "max-age=31536000; includeSubDomains"


def inline_script_hashes(html: bytes) -> list[str]:
    """CSP source expressions of the inline scripts of a page."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(m).digest()).decode()}'"
            for m in _INLINE_SCRIPT.findall(html)]


class SecurityHeadersMiddleware:
    """Adds nosniff, Referrer-Policy, a CSP, X-Frame-Options, no-store and (https) HSTS."""

    def __init__(self, app: ASGIApp, *, https: bool, static_prefix: str = "/app/static/") -> None:
        self.app = app
        self.static_prefix = static_prefix
        self.common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                       (b"x-frame-options", b"DENY")]
        if https:
            self.common.append((b"strict-transport-security", HSTS.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Complete the headers of the response start (doc pages: once their body is known)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        doc_policy = DOC_PAGES.get(path)
        static = path.startswith(self.static_prefix)
        if doc_policy is not None:
            await self._doc_page(scope, receive, send, doc_policy)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._complete(message.get("headers", []), API_CSP, static)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _doc_page(self, scope: Scope, receive: Receive, send: Send, policy: str) -> None:
        start: Message | None = None
        body = bytearray()

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            csp = policy.format(hashes=" ".join(inline_script_hashes(bytes(body))))
            start["headers"] = self._complete(start.get("headers", []), csp, static=False)
            await send(start)
            await send({"type": "http.response.body", "body": bytes(body)})

        await self.app(scope, receive, buffer)

    def _complete(
        self, headers: list[tuple[bytes, bytes]], csp: str, static: bool) -> list[tuple[bytes, bytes]]:
        present = {name.lower() for name, _ in headers}
        added = [(n, v) for n, v in self.common if n not in present]
        if b"content-security-policy" not in present:
            added.append((b"content-security-policy", csp.encode()))
        if b"cache-control" not in present and not static:
            # Patient data (identities, documents, FHIR resources) must not stay in any cache.
            added.append((b"cache-control", b"no-store"))
        return [*headers, *added]


def add_to_response(response: Response, *, https: bool) -> Response:
    """The same headers on a response built outside the middleware (a 500 of the root app is sent
    by Starlette's outermost error middleware, which no other middleware wraps)."""
    done = SecurityHeadersMiddleware(response, https=https)._complete(list(response.raw_headers), API_CSP,
                                                                     static=False)
    response.raw_headers = done
    return response
