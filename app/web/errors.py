"""What a page handler raises instead of answering: the sign-in page or a refused form."""

from __future__ import annotations

PREFIX = "/app"  # where the browser application is mounted


class SignInRequired(Exception):
    """The page needs a signed-in user."""


class CsrfRefused(Exception):
    """A form came without this session's CSRF token."""
