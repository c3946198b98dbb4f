"""Settings: one object, built once from ``IDENTITO_*`` environment variables (and ``.env``).

Nothing else in the project reads the environment. Nested sections use a double underscore:
``IDENTITO_INSI__ENDPOINT``, ``IDENTITO_HL7__LISTEN_PORT``... Secrets have no usable default
outside development: the service refuses to start rather than run with a guessable key.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from app.domain.documents import DEFAULT_HIGH_TRUST, DocumentType, accepted_high_trust
from app.domain.mssante import DEFAULT_TRUST_DOMAINS, MssPolicy
from app.domain.xds import DEFAULT_DOCUMENT_KINDS, Code, DocumentCodes, Establishment

DEV_SECRET_MARKER = "dev-only-"  # noqa: S105 (a prefix that marks development secrets)

# Values of a settings file while Settings() is being built (settings_with_file).
_FILE_VALUES: ContextVar[Mapping[str, str | None] | None] = ContextVar("identito_file_values", default=None)


class AuthSettings(BaseModel):
    """Bearer token verification (python-jose)."""

    algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    issuer: str = "identito-dev"
    audience: str = "identito"
    roles_claim: str = "roles"
    # Development: a shared secret (HS*) or a PEM public key (RS*/ES*).
    secret: str | None = None
    public_key_pem: str | None = None
    # Production: the establishment's OIDC provider.
    jwks_url: str | None = None
    jwks_cache_seconds: int = Field(default=600, ge=0)
    # A token naming a key (kid) missing from the cached JWKS fetches it again (key rotation at the
    # provider), at most once per this many seconds.
    jwks_min_refresh_seconds: float = Field(default=30.0, ge=0)
    http_timeout_seconds: float = 5.0
    # Clock skew tolerated on nbf and iat (a token issued "in the future" beyond it is refused);
    # exp is strict.
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    # Failed authentications (a token presented and refused) per client address: past
    # failure_limit within failure_window_seconds, 429 until the window frees. 0: no limit.
    failure_limit: int = Field(default=20, ge=0)
    failure_window_seconds: float = Field(default=60.0, gt=0)
    # Allows `identito token` (development tokens); refused otherwise.
    dev_tokens: bool = False

    @model_validator(mode="after")
    def _check(self) -> AuthSettings:
        if not self.algorithms or any(a.lower() == "none" for a in self.algorithms):
            raise ValueError("auth.algorithms must list real algorithms; 'none' is refused")
        if "algorithms" not in self.model_fields_set and (self.public_key_pem or self.jwks_url):
            self.algorithms = ["RS256"]  # a provider's keys are public keys: never HS256 by default
        symmetric = {a for a in self.algorithms if a.upper().startswith("HS")}
        if symmetric and (len(symmetric) < len(self.algorithms) or self.public_key_pem or self.jwks_url):
            # A public key used as an HMAC secret would let anyone sign (algorithm confusion).
            raise ValueError("auth.algorithms: HS* (shared secret) cannot be mixed with public-key "
                             "algorithms, a public key or a JWKS URL")
        if not (self.secret or self.public_key_pem or self.jwks_url):
            raise ValueError(
                "no token verification key: set IDENTITO_AUTH__JWKS_URL (production) "
                "or IDENTITO_AUTH__SECRET with IDENTITO_AUTH__DEV_TOKENS=true (development)"
            )
        return self


class InsiSettings(BaseModel):
    """INSi teleservice client (see docs/insi.md)."""

    endpoint: str = "http://127.0.0.1:8081/lps"
    simulator: bool = True
    wsdl_path: Path | None = None  # None: the project's own wsdl/ folder
    idam: str = "IDENTITO-DEV"
    software_name: str = "identito"
    software_version: str = "0.1.0"
    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 3.0
    cert_auto_path: Path | None = None
    cert_auto_password: str | None = None
    cert_auto_key_path: Path | None = None
    cert_manu_path: Path | None = None
    cert_manu_password: str | None = None
    cert_manu_key_path: Path | None = None
    ca_bundle_path: Path | None = None
    # Read timeout of one socket read; the whole call is bounded by timeout_seconds.
    read_timeout_seconds: float = 8.0
    # How calls are authenticated: mutual TLS with a server certificate, or a CPS/CPE card.
    credential_mode: Literal["server-certificate", "card"] = "server-certificate"
    # Endpoint of the card (server-auth TLS) mode; None: the same as `endpoint`.
    card_endpoint: str | None = None
    card_module_path: Path = Path("/usr/lib/softhsm/libsofthsm2.so")
    card_token_label: str | None = None
    card_pin: str | None = None
    card_key_label: str | None = None
    card_holder_id: str | None = None  # NameID; None: taken from the card certificate
    card_billing_id: str = ""  # identifiantFacturation
    card_activity_sector: str = ""  # secteurActivite
    assertion_validity_seconds: int = 3600
    assertion_renew_margin_seconds: int = 300
    http_max_connections: int = 32
    # Highest TLS version with a client certificate. With 1.2 the server refuses a certificate
    # inside the handshake (a clear TLS error); with 1.3 it can only drop the connection later.
    mtls_max_version: Literal["1.2", "1.3"] = "1.2"


class Hl7Settings(BaseModel):
    """HL7 v2 PAM FR over MLLP (see docs/integration.md)."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 2575
    listen_enabled: bool = True
    sending_application: str = "IDENTITO"
    sending_facility: str = "IDENTITO"
    ack_timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 5.0
    # Listener TLS: certificate + key; with a client CA, senders must present a certificate.
    listen_tls_cert_path: Path | None = None
    listen_tls_key_path: Path | None = None
    listen_tls_client_ca_path: Path | None = None
    max_message_bytes: int = 1024 * 1024
    idle_timeout_seconds: float = 300.0
    # Senders (MSH-3) whose INS and PID-32 are trusted as an identity referential; the INS from
    # any other sender is stored as received and queued for verification.
    trusted_referentials: list[str] = Field(default_factory=list)
    # The assigning authority (HL7 HD "namespace&OID&ISO") of each sender's local identifiers, by
    # sender "MSH-3^MSH-4" (or "MSH-3"). An identifier is never taken without its authority: with
    # one configured, PID-3 may omit CX-4; without, CX-4 is taken as the sender writes it.
    identifier_authorities: dict[str, str] = Field(default_factory=dict)
    # Inbound: database transactions running at once, and how many waiting messages one of them
    # may apply together (group commit; 1 = one transaction per message).
    inbound_transactions: int = Field(default=3, ge=1)
    inbound_group_max: int = Field(default=50, ge=1)
    # Inbound worker processes (PostgreSQL): > 1 spreads parsing and database work over that many
    # processes (CPU cores); 1 keeps it in threads of the listener process.
    inbound_processes: int = Field(default=1, ge=1)
    # A worker process that has not answered a group within this time is killed and replaced;
    # the group's messages get no ACK (nothing of them was committed) and the GAM sends them again.
    inbound_group_timeout_seconds: float = Field(default=30.0, gt=0)
    # Relay (outbound): TLS towards subscribers flagged tls, batching, retries, replays.
    relay_tls_ca_path: Path | None = None
    relay_tls_cert_path: Path | None = None
    relay_tls_key_path: Path | None = None
    relay_batch_size: int = 500
    relay_connections_per_subscriber: int = 4
    relay_idle_seconds: float = 0.2
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    max_error_attempts: int = 5
    lease_seconds: float = 60.0
    replay_rate_per_second: float = 2000.0

    @model_validator(mode="after")
    def _check_lease(self) -> Hl7Settings:
        if self.lease_seconds < self.ack_timeout_seconds + self.connect_timeout_seconds + 1:
            raise ValueError(
                "hl7.lease_seconds must exceed ack_timeout_seconds + connect_timeout_seconds by 1 s at least "
                "(a relay must be able to send within its lease)"
            )
        return self


class QualificationSettings(BaseModel):
    """Desk proposals and batch campaigns (see docs/qualification.md)."""

    proposal_ttl_seconds: int = Field(default=15 * 60, ge=0)
    campaign_rate_limit: float | None = Field(default=5.0, ge=0)  # calls/s; conservative by default
    campaign_concurrency: int = Field(default=4, ge=1, le=64)  # concurrent INSi calls
    # Worker threads per call slot: the extra threads write outcomes and claim items while the
    # slots wait for INSi (1 = each thread claims, calls and writes in turn).
    campaign_threads_per_call: int = Field(default=2, ge=1, le=4)
    campaign_max_attempts: int = Field(default=5, ge=1, le=20)
    campaign_backoff_base_seconds: float = Field(default=0.5, ge=0)
    campaign_backoff_cap_seconds: float = Field(default=30.0, ge=0)
    campaign_breaker_threshold: int = Field(default=5, ge=1)
    campaign_breaker_cooldown_seconds: float = Field(default=30.0, ge=0)
    # An item claimed longer ago than this is taken as interrupted (its worker died).
    campaign_lease_seconds: float = Field(default=120.0, gt=0)
    worker_poll_seconds: float = Field(default=2.0, gt=0)


class DuplicatesSettings(BaseModel):
    """Duplicate detection (see docs/duplicates.md)."""

    # The prior of the score is set for a repository of this size (0.05 / N, docs/duplicates.md):
    # the odds that two identities picked at random are one person.
    expected_identities: int = Field(default=1_000_000, ge=2)
    # A blocking key shared by more identities is not compared (a very common name and first name,
    # a placeholder name): its identities still meet through their other keys.
    block_cap: int = Field(default=1000, ge=2)
    candidates: int = Field(default=10, ge=1, le=100)  # candidates a desk check returns
    max_loaded: int = Field(default=500, ge=10)  # identities a desk check scores at most
    # Changed identities the detection job has not keyed yet, that a desk check scores as well.
    pending_limit: int = Field(default=1000, ge=0)
    check_batch: int = Field(default=200, ge=1)  # changes the detection job takes per transaction
    check_poll_seconds: float = Field(default=1.0, gt=0)
    scan_chunk: int = Field(default=20_000, ge=100)  # identities whose pairs a scan commits at once
    # Processes a scan scores in (forked once the identities are grouped; one per core).
    scan_processes: int = Field(default=2, ge=1, le=64)
    # A running scan whose runner sent no heartbeat for this long is taken over by another worker.
    scan_lease_seconds: float = Field(default=300.0, gt=0)


class DocumentsSettings(BaseModel):
    """INS DataMatrix and cover pages (see docs/documents.md)."""

    max_upload_bytes: int = 20 * 1024 * 1024
    stamp_first_page: bool = False
    max_pages: int = 2000  # uploads with more pages are refused (422)
    symbol_mm: float = 25.0  # printed DataMatrix width on the cover page, quiet zone included
    quiet_zone_modules: int = 2  # at least 1 (ISO/IEC 16022 for ECC 200 asks for 1)
    png_module_px: int = 10  # default module size of datamatrix.png
    font_dir: Path = Path("/usr/share/fonts/truetype/dejavu")  # fonts-dejavu-core
    scan_dpi: int = 200  # rasterisation of a PDF's first page for decoding
    scan_max_pixels: int = 40_000_000  # larger images / renders are refused or scaled down
    label_layout: str = "3x8-70x37"  # default INS label sheet (app.domain.labels.LABEL_SHEETS)


class DocumentKindSetting(BaseModel):
    """The codes of one document kind, as configured (each code is ``code|scheme OID|display``)."""

    type: str
    class_code: str
    practice_setting: str | None = None
    facility_type: str | None = None
    confidentiality: str | None = None
    content_type: str | None = None
    events: list[str] = Field(default_factory=list)

    def codes(self) -> DocumentCodes:
        """The domain's codes, defaults where a code is not configured."""
        base = DocumentCodes(_code(self.type), _code(self.class_code))
        return DocumentCodes(
            base.type, base.class_,
            practice_setting=_code(self.practice_setting) if self.practice_setting else base.practice_setting,
            facility_type=_code(self.facility_type) if self.facility_type else base.facility_type,
            confidentiality=_code(self.confidentiality) if self.confidentiality else base.confidentiality,
            events=tuple(_code(e) for e in self.events),
            content_type=_code(self.content_type) if self.content_type else None,
        )


def _code(text: str) -> Code:
    parts = [p.strip() for p in text.split("|")]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"a code is written 'code|scheme OID|display name', not {text[:60]!r}")
    return Code(*parts)


class MssanteSettings(BaseModel):
    """MSSanté sending (see docs/mssante.md)."""

    # The MSSanté trust space: recipients must be at one of these domains or a subdomain.
    trust_domains: list[str] = Field(default_factory=lambda: list(DEFAULT_TRUST_DOMAINS))
    trust_space_only: bool = True
    # The renewable MSSanté exemption: send for a non-qualified identity, on the IPP only.
    unqualified_exemption: bool = False
    finess: str = "000000000"
    source_oid: str = "1.2.250.1.71.4.2.2.999.1"  # the sending system's OID (SubmissionSet sourceId)
    software_name: str = "Identito"
    software_version: str = ""
    contact: str = ""
    # Extra or replaced document kinds (key: the kind name used by callers).
    document_kinds: dict[str, DocumentKindSetting] = Field(default_factory=dict)
    # Sending (docs/mssante.md "Sending"): the application mailbox and its operator's SMTP
    # submission server, always with STARTTLS; authentication by the organisation certificate
    # (client TLS certificate) or SASL PLAIN / XOAUTH2 (password = the token).
    sender: str = "identito@ch-demo.mssante.fr"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_auth: Literal["certificate", "plain", "xoauth2"] = "certificate"
    smtp_ca_path: Path | None = None  # the operator's CA (None: the system's trust store)
    smtp_cert_path: Path | None = None  # the IGC Santé organisation certificate (PEM)
    smtp_key_path: Path | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # Temporary failures (4xx, connection, TLS) are retried with backoff; then a dead letter.
    max_attempts: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=30.0, ge=0)
    retry_max_seconds: float = Field(default=3600.0, ge=0)
    lease_seconds: float = Field(default=300.0, gt=0)  # a claimed message not finished by then is resent
    worker_poll_seconds: float = Field(default=2.0, gt=0)
    worker_batch_size: int = Field(default=20, ge=1)
    # Receipts (DSN, MDN): the application mailbox over IMAP with STARTTLS, the login of the
    # mailbox, and the SMTP CA and organisation certificate for TLS.
    imap_host: str = "127.0.0.1"
    imap_port: int = 143
    imap_username: str | None = None
    imap_password: str | None = None
    imap_mailbox: str = "INBOX"
    receipts_poll_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> MssanteSettings:
        if not self.trust_domains and self.trust_space_only:
            raise ValueError("mssante.trust_domains is empty while mssante.trust_space_only is on")
        self.kinds()
        return self

    def policy(self) -> MssPolicy:
        """The domain policy these settings describe."""
        return MssPolicy.of(self.trust_domains, trust_space_only=self.trust_space_only,
                            unqualified_exemption=self.unqualified_exemption)

    def kinds(self) -> dict[str, DocumentCodes]:
        """The code table: the defaults, overridden or extended by the configured kinds."""
        return {**DEFAULT_DOCUMENT_KINDS, **{k: v.codes() for k, v in self.document_kinds.items()}}


class WebSettings(BaseModel):
    """Browser application for desks and the identitovigilance cell (see docs/web.md)."""

    # Key that signs the session cookie (sessions are in the database; every process must have the
    # same key). None: derived from auth.secret or oidc_client_secret, else random at start, valid
    # in this process only (app.web.sessions.cookie_secret).
    session_secret: str | None = None
    session_idle_minutes: int = Field(default=30, ge=1)
    session_max_hours: int = Field(default=12, ge=1)
    # None: Secure unless a development or test deployment answers on plain http (public_url).
    cookie_secure: bool | None = None
    # The establishment's OpenID Connect provider (authorization code + PKCE); the redirect URI to
    # register there is public_url + "/app/oidc/callback".
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"])
    oidc_roles_claim: str = "roles"  # a dotted path: realm_access.roles (Keycloak)
    # Ask the provider for the credentials at every sign-in (shared desk workstations).
    oidc_prompt_login: bool = True
    oidc_timeout_seconds: float = Field(default=5.0, gt=0)
    oidc_cache_seconds: float = Field(default=600.0, ge=0)

    @model_validator(mode="after")
    def _check_oidc(self) -> WebSettings:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError("web.oidc_issuer needs IDENTITO_WEB__OIDC_CLIENT_ID and "
                             "IDENTITO_WEB__OIDC_CLIENT_SECRET")
        return self


class Settings(BaseSettings):
    """All settings of one Identito process."""

    model_config = SettingsConfigDict(
        env_prefix="IDENTITO_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    environment: Literal["development", "production", "test"] = "production"
    database_url: str = "sqlite:///./var/identito.db"
    language: Literal["fr", "en"] = "fr"
    establishment_name: str = "Établissement de démonstration"
    ipp_oid: str = "1.2.250.1.71.4.2.2.999"
    ipp_namespace: str = "IDENTITO"
    accepted_documents: list[str] = Field(
        default_factory=lambda: sorted(d.value for d in DEFAULT_HIGH_TRUST)
    )
    birth_place_codes_file: Path | None = None
    var_dir: Path = Path("./var")
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"

    auth: AuthSettings = Field(default_factory=lambda: AuthSettings(secret=None, jwks_url=None))
    insi: InsiSettings = Field(default_factory=InsiSettings)
    hl7: Hl7Settings = Field(default_factory=Hl7Settings)
    qualification: QualificationSettings = Field(default_factory=QualificationSettings)
    documents: DocumentsSettings = Field(default_factory=DocumentsSettings)
    duplicates: DuplicatesSettings = Field(default_factory=DuplicatesSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    mssante: MssanteSettings = Field(default_factory=MssanteSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment variables, then the demo settings file when one is in use, then .env."""
        values = _FILE_VALUES.get()
        if values is None:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        file_settings = _FileSource(settings_cls, values)
        return init_settings, env_settings, file_settings, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _default_auth(cls, data: object) -> object:
        # AuthSettings refuses to exist without a key: keep the error message the operator sees.
        if isinstance(data, dict) and "auth" not in data:
            data["auth"] = {}
        return data

    @model_validator(mode="after")
    def _check(self) -> Settings:
        accepted_high_trust(self.accepted_documents)
        if self.environment == "production":
            if self.auth.dev_tokens:
                raise ValueError("IDENTITO_AUTH__DEV_TOKENS must not be set in production")
            if self.auth.secret and self.auth.secret.startswith(DEV_SECRET_MARKER):
                raise ValueError("the development token secret cannot be used in production")
            # Calls without a credential to a local simulator could store simulated INS as real
            # ones: never in production. Asked for explicitly, it is an error; by default, off.
            if self.insi.simulator and "simulator" in self.insi.model_fields_set:
                raise ValueError(
                    "IDENTITO_INSI__SIMULATOR=true is for development and training only: in production, "
                    "set IDENTITO_INSI__ENDPOINT and the INSI-AUTO/INSI-MANU certificates (docs/insi.md)"
                )
            self.insi = self.insi.model_copy(update={"simulator": False})
        return self

    @cached_property
    def high_trust_documents(self) -> frozenset[DocumentType]:
        """The establishment's accepted high-trust identity documents (RNIV EXI SI 10)."""
        return accepted_high_trust(self.accepted_documents)

    @cached_property
    def mss_establishment(self) -> Establishment:
        """The sending establishment and system as MSSanté packages name them."""
        m = self.mssante
        return Establishment(self.establishment_name, m.finess, m.source_oid, self.ipp_oid,
                             m.software_name, m.software_version, m.contact)

    @cached_property
    def birth_place_codes(self) -> frozenset[str] | None:
        """The configured INSEE COG code list, when one is provided."""
        if self.birth_place_codes_file is None:
            return None
        lines = self.birth_place_codes_file.read_text(encoding="utf-8").splitlines()
        return frozenset(line.strip().split(";")[0].upper() for line in lines if line.strip())

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")


def development_settings(**overrides: object) -> Settings:
    """Settings of `identito demo` and the test suite: development secret, dev tokens allowed."""
    base: dict[str, object] = {
        "environment": "development",
        "auth": {"secret": DEV_SECRET_MARKER + "change-me-identito-secret-key", "dev_tokens": True},
    }
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


class _FileSource(EnvSettingsSource):
    """``IDENTITO_*`` values read from a settings file, parsed like environment variables."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str | None]) -> None:
        self._file_values = {key.lower(): value for key, value in values.items()}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._file_values


def settings_with_file(values: Mapping[str, str | None]) -> Settings:
    """Settings from the environment, then these ``IDENTITO_*`` file values, then .env, then defaults."""
    token = _FILE_VALUES.set(values)
    try:
        return Settings()
    finally:
        _FILE_VALUES.reset(token)
