"""MSSanté composition: the package and mail builder behind the services' ``MssComposer`` port,
the sending tools, the SMTP client configuration and the /metrics gauges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from app.config import Settings
from app.domain.identity import Identity
from app.domain.xds import DocumentMetadata
from app.integrations.mssante.imap import ImapConfig
from app.integrations.mssante.mail import MailParts, build_mail
from app.integrations.mssante.smtp import SmtpConfig
from app.integrations.mssante.xdm import build_xdm
from app.services import mss
from app.services.context import ServiceContext
from app.services.mss import ComposedMail, MssTools


class Composer:
    """Builds IHE_XDM.ZIP (app.integrations.mssante.xdm) and the mail around it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kinds = settings.mssante.kinds()
        self.policy = settings.mssante.policy()

    def compose(
        self,
        pdf: bytes,
        identity: Identity,
        metadata: DocumentMetadata,
        *,
        recipients: tuple[str, ...],
        body: str,
        cda: bool,
        read_receipt: bool,
        message_id: str,
        now: datetime,
        pdf_parsed: bool,
    ) -> ComposedMail:
        """The package and the mail; a DomainError when a rule or a check refuses."""
        s = self.settings
        package = build_xdm(
            pdf,
            identity,
            metadata,
            establishment=s.mss_establishment,
            policy=self.policy,
            kinds=self.kinds,
            submitted_at=now,
            cda=cda,
            max_bytes=s.documents.max_upload_bytes,
            pdf_parsed=pdf_parsed,
        )
        checked = metadata.checked()
        parts = MailParts(
            sender=s.mssante.sender,
            recipients=recipients,
            subject=checked.title,
            body=body,
            message_id=message_id,
            date=now,
            read_receipt=read_receipt,
        )
        return ComposedMail(build_mail(package, parts), package.unique_id, package.ins_flag.value == "O")


def build_mss_tools(settings: Settings) -> MssTools:
    """The sending tools of this process."""
    m = settings.mssante
    return MssTools(
        Composer(settings), m.policy(), m.sender, m.max_attempts, m.retry_base_seconds, m.retry_max_seconds
    )


def smtp_config(settings: Settings) -> SmtpConfig:
    """The submission server and the authentication the settings describe."""
    m = settings.mssante
    return SmtpConfig(
        m.smtp_host,
        m.smtp_port,
        m.smtp_auth,
        m.smtp_ca_path,
        m.smtp_cert_path,
        m.smtp_key_path,
        m.smtp_username,
        m.smtp_password,
        m.smtp_timeout_seconds,
    )


def imap_config(settings: Settings) -> ImapConfig:
    """The application mailbox the settings describe."""
    m = settings.mssante
    return ImapConfig(
        m.imap_host,
        m.imap_port,
        m.imap_username or m.sender,
        m.imap_password or "",
        m.smtp_ca_path,
        m.smtp_cert_path,
        m.smtp_key_path,
        m.imap_mailbox,
        m.smtp_timeout_seconds,
    )


def mss_metrics(ctx: ServiceContext) -> Callable[[], list[str]]:
    """Prometheus gauges: MSSanté messages per state, recipients per status."""

    def collect() -> list[str]:
        messages, recipients = mss.counts(ctx)
        lines = ["# TYPE identito_mss_messages gauge"]
        lines += [f'identito_mss_messages{{state="{k}"}} {v}' for k, v in messages.items()]
        lines.append("# TYPE identito_mss_recipients gauge")
        lines += [f'identito_mss_recipients{{status="{k}"}} {v}' for k, v in recipients.items()]
        return lines

    return collect
