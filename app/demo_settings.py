"""The demo settings file: what `identito demo` leaves for the commands run beside it.

Part of the configuration (with app.config, the only modules that read ``IDENTITO_*`` values).
`identito demo` writes ``<var_dir>/demo-settings.env`` once its API listens and removes it when
it stops; `identito token`, `campaign run`, `cover-page`, `datamatrix`... read it when present.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from app.config import Settings, settings_with_file

DEMO_SETTINGS_FILE = "demo-settings.env"


class _Whereabouts(BaseSettings):
    """Where the demo settings file is, read before the settings themselves (nothing else checked)."""

    model_config = SettingsConfigDict(
        env_prefix="IDENTITO_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    var_dir: Path = Path("./var")
    environment: str | None = None


@dataclass(frozen=True)
class DemoFile:
    """The demo settings file found under the var dir: used, or why it was ignored."""

    path: Path
    used: bool
    reason: Literal["used", "not-development", "environment", "permissions"]
    environment: str | None = None
    values: Mapping[str, str | None] = field(default_factory=dict, repr=False)


def find_demo_file() -> DemoFile | None:
    """The demo settings file beside which a command runs, and whether it may be used.

    The file holds development settings (the development token secret, dev tokens allowed, the
    built-in simulator), so it must never be a silent source of a production configuration: it
    is used only when it declares ``IDENTITO_ENVIRONMENT=development``, when the environment (or
    .env) does not declare another environment, and when only its owner can read it (0600, as the
    demo writes it). The command line says on stderr, in one line, that it is used or why it was
    ignored, so an operator always sees where the database and the token key came from.
    `identito serve` never reads it.
    """
    from dotenv import dotenv_values

    where = _Whereabouts()
    path = where.var_dir / DEMO_SETTINGS_FILE
    if not path.is_file():
        return None
    status = path.stat()
    if status.st_mode & 0o077 or status.st_uid != os.getuid():
        return DemoFile(path, False, "permissions")
    values = dotenv_values(path, interpolate=False)
    if values.get("IDENTITO_ENVIRONMENT") != "development":
        return DemoFile(path, False, "not-development")
    if where.environment not in (None, "development"):
        return DemoFile(path, False, "environment", where.environment)
    return DemoFile(path, True, "used", values=values)


def command_line_settings(demo: DemoFile | None) -> Settings:
    """Settings of a command: environment variables, then the demo file when used, .env, defaults."""
    return settings_with_file(demo.values) if demo is not None and demo.used else Settings()


def demo_settings_values(settings: Settings) -> dict[str, str]:
    """What the local command line needs to reach this demo, as ``IDENTITO_*`` variables."""
    auth, insi = settings.auth, settings.insi
    values = {
        "IDENTITO_ENVIRONMENT": settings.environment,
        "IDENTITO_DATABASE_URL": _absolute_sqlite(settings.database_url),
        "IDENTITO_VAR_DIR": str(settings.var_dir.resolve()),
        "IDENTITO_PUBLIC_URL": settings.public_url,
        "IDENTITO_LANGUAGE": settings.language,
        "IDENTITO_ESTABLISHMENT_NAME": settings.establishment_name,
        "IDENTITO_IPP_OID": settings.ipp_oid,
        "IDENTITO_IPP_NAMESPACE": settings.ipp_namespace,
        "IDENTITO_ACCEPTED_DOCUMENTS": json.dumps(settings.accepted_documents),
        "IDENTITO_AUTH__SECRET": auth.secret or "",
        "IDENTITO_AUTH__DEV_TOKENS": json.dumps(auth.dev_tokens),
        "IDENTITO_AUTH__ALGORITHMS": json.dumps(auth.algorithms),
        "IDENTITO_AUTH__ISSUER": auth.issuer,
        "IDENTITO_AUTH__AUDIENCE": auth.audience,
        "IDENTITO_AUTH__ROLES_CLAIM": auth.roles_claim,
        "IDENTITO_INSI__ENDPOINT": insi.endpoint,
        "IDENTITO_INSI__SIMULATOR": json.dumps(insi.simulator),
        "IDENTITO_INSI__IDAM": insi.idam,
    }
    if settings.birth_place_codes_file is not None:
        values["IDENTITO_BIRTH_PLACE_CODES_FILE"] = str(settings.birth_place_codes_file.resolve())
    return values


def write_demo_settings(settings: Settings) -> tuple[Path, str]:
    """Write ``<var_dir>/demo-settings.env``, mode 0600 (it holds the development secret)."""
    if settings.environment != "development":
        raise ValueError("only development settings are written to the demo settings file")
    path = settings.var_dir.resolve() / DEMO_SETTINGS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Written by `identito demo` (process {os.getpid()}): what the local command line needs to",
        "# reach this demo. Development only: it holds the development token secret. Removed when",
        "# the demo stops. IDENTITO_* environment variables take precedence (docs/configuration.md).",
    ]
    lines += [f"{key}={_quoted(value)}" for key, value in demo_settings_values(settings).items()]
    text = "\n".join(lines) + "\n"
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)
    return path, text


def remove_demo_settings(path: Path, text: str) -> None:
    """Remove the demo settings file if it is still the one this demo wrote."""
    try:
        if path.read_text(encoding="utf-8") == text:
            path.unlink()
    except OSError:
        pass


def _quoted(value: str) -> str:
    """A single-quoted dotenv value (read back without ${...} interpolation)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _absolute_sqlite(url: str) -> str:
    """The database URL with a relative SQLite path made absolute (commands may run elsewhere)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return url
    return parsed.set(database=str(Path(name).resolve())).render_as_string(hide_password=False)
