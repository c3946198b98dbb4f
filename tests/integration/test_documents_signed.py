"""A really signed PDF (pyHanko) keeps a valid signature after the cover page is added."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from app.integrations.documents.renderer import DocumentRenderer
from tests.documents_support import data, run, sample_pdf


@pytest.fixture(scope="module")
def signer_files(tmp_path_factory):
    """A self-signed signing certificate and its key, as PEM files."""
    folder = tmp_path_factory.mktemp("pki")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Dr Test Signataire")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return folder / "key.pem", folder / "cert.pem"


def signed_pdf(signer_files) -> bytes:
    key, cert = signer_files
    signer = signers.SimpleSigner.load(str(key), str(cert))
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(sample_pdf(3))),
        signers.PdfSignatureMetadata(field_name="Signature1"),
        signer=signer,
    )
    return out.getvalue()


def validate(pdf: bytes, cert_path):
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(cert_path))], allow_fetching=False)
    return validate_pdf_signature(signature, context)


def test_signature_still_valid_after_stamping(signer_files, tmp_path):
    original = signed_pdf(signer_files)
    assert validate(original, signer_files[1]).bottom_line
    result = DocumentRenderer().stamp(original, data(), first_page=True)
    assert result.signed and not result.first_page_stamped  # page 1 of a signed file is never touched
    assert result.pdf.startswith(original)
    status = validate(result.pdf, signer_files[1])
    assert status.intact and status.valid and status.trusted  # the signed bytes are untouched
    # ...and the validator tells the truth: a revision was added after signing (the cover page).
    assert status.coverage is SignatureCoverageLevel.ENTIRE_REVISION
    assert status.modification_level is ModificationLevel.OTHER
    path = tmp_path / "stamped.pdf"
    path.write_bytes(result.pdf)
    assert "Pages:           4" in run("pdfinfo", path)
    assert "Matricule INS" in run("pdftotext", "-f", "1", "-l", "1", path, "-")
