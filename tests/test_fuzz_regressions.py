"""Every crash the fuzzers found, replayed; and each fuzz target run on its seeds, so the
harnesses stay working without atheris (CI runs them under atheris too, see fuzz/)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography.x509 import ocsp
from fuzz.targets import TARGETS, run_one, seeds

from esign.certs.csr import load_csr
from esign.certs.loading import parse_certificates
from esign.certs.revinfo import parse_crl, parse_ocsp_response
from esign.certs.trusted_list import read_trusted_list
from esign.errors import (
    CredentialError,
    EsignError,
    InvalidCsrError,
    MalformedInputError,
    TrustedListError,
)
from esign.keys.pkcs12 import parse_pkcs12
from esign.signing.sign import rebuilt, sign
from esign.signing.verify import verify
from esign.simple.credentials import CredentialStore
from tests.conftest import Pki

#: fuzz crl, 2026-11-29: an issuer name attribute whose OID asn1crypto maps to an
#: ObjectDescriptor made ``.native`` raise AttributeError (a traceback, not a refusal).
CRL_ODD_NAME = base64.b64decode(
    "MIHPMHcCAQEwCgYIKoZIzj0EAwIwFzEVMBMGA1X8AwcMRnV6eiBSb290IENBFw0yNjExMjkxNjA2MzVaFw0y"
    "NjEyMDYxNjA2MzVaoC8wLTAKBgNVHRQEAwIBAjAfBgNVHSMEGDAWgBRaIk//UIoBxf40xwtQ2JDqM1+TmDAK"
    "BggqhkjOPQQDAgNIADBFAiA4noBGk3DHFvhnIupcM9OmKn7aUapz2+nk/9yhs+MXRgIhAMuDSv+CGcM54qsD"
    "HCI5uypAeapofJ+yf0ZypSB62Dzq"
)


def test_crl_with_an_odd_name_attribute_is_refused() -> None:
    with pytest.raises(MalformedInputError, match="not a CRL"):
        parse_crl(CRL_ODD_NAME)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target_runs_on_its_seeds_and_simple_mutations(name: str) -> None:
    for seed in seeds(name):
        run_one(name, seed)
        for cut in (0, 1, len(seed) // 2, len(seed) - 1):
            run_one(name, seed[:cut])
        flipped = bytearray(seed)
        flipped[len(seed) // 3] ^= 0x55
        run_one(name, bytes(flipped))


#: fuzz crl, 2026-11-29: two authorityKeyIdentifier extensions made cryptography raise
#: DuplicateExtension (not a ValueError), which escaped as a traceback.
CRL_DUPLICATE_EXTENSION = base64.b64decode(
    "MIHPMHcCAQEwCgYIKoZIzj0EAwIwFzEVMBMGA3UEAwwMRnV6eiBSb290IENBFw0yNjExMjkxNjA3MzJaFw0y"
    "NjEyMDYxNjA3MzFaoC8wLTAKBgNVHSMEAwIBAjAfBgNVHSMEGDA2MTYwN+2+edcp6cMBAAAAH86L6uYuUDAK"
    "BggqhkjOPQQDAgNIADBFAiAYgl5ZNXoApxDMP89TT7da7ZcyfGM1Lv/////N1YCc6gIhAL32fdZrrcgA6dvW"
    "M2J+7c4ZP3YW2NNkGjVzsfl3/8Hb"
)


def test_crl_with_a_duplicated_extension_is_refused() -> None:
    with pytest.raises(MalformedInputError, match="Duplicate"):
        parse_crl(CRL_DUPLICATE_EXTENSION)


def test_credential_store_on_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    """fuzz credential_file: sqlite3.DatabaseError escaped as a traceback."""
    path = tmp_path / "accounts.db"
    path.write_bytes(b"not a database at all" * 10)
    with pytest.raises(CredentialError, match="cannot open the credential store"):
        CredentialStore(path, secret_key=bytes(32))


#: fuzz certificate, 2026-11-29: version 58 made cryptography raise InvalidVersion (not a
#: ValueError), which escaped as a traceback.
CERTIFICATE_BAD_VERSION = base64.b64decode(
    "MIIBpDCCAUqgAwIBOgIUIAuP4BubM0XmrqGi2eva1QJddfQwCgYIKoZIzj0EAwIwFzEVMBMGA1UEAwwMRnV6"
    "eiBSb290IENBMB4XDTI2MTEyOTE2MDMyN1oXDTI3MTEyOTE2MDgyN1owFjEUMBIGA1UEAwwLRnV6eiBTaWdu"
    "ZXIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARhKV88rsvDzOkHkDK1JCpyQlwTwODR/v/OlghrwOz2cMBd"
    "Oo8rXNv8XWTH+Z3z0JL8wssz5xEAAAAAAAAAQqY9o3UwczAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIG"
    "wDAdBgNVHQ4EFgTjTbcR5F3zASVbqOIlnxhmutgxMRYwHwYDVR0jBBgwFoAUvWcLSCavvacyqBhF7SdjD3R9"
    "Fw0wEwYDVR0lBAwwCgYIKwYBBQUHAwQwCgYIKoZIzj0EAwIDSAAwRcAwHQYDVR0OBEp2OGI4UnpNcEIwSS85"
    "bUJObWhmMFE9PQotLS0tLUVORCBDRVIAAAAAjNH2Jv8b8RzMpB0I/9mBNmhf0Q=="
)


def test_certificate_with_an_invalid_version_is_refused() -> None:
    with pytest.raises(MalformedInputError, match="not a valid X509 version"):
        parse_certificates(CERTIFICATE_BAD_VERSION)


def test_signature_embedding_a_certificate_with_an_invalid_version(pki: Pki) -> None:
    """The same certificate inside a SignedData: skipped, the signer is then missing."""
    signed = sign(b"doc", signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    content = cms.ContentInfo.load(signed)["content"]
    odd = asn1_x509.Certificate.load(CERTIFICATE_BAD_VERSION)
    new = rebuilt(content, certificates=cms.CertificateSet([odd]))
    der = cms.ContentInfo({"content_type": "signed_data", "content": new}).dump()
    try:
        report = verify(der, trust=pki.trust)
    except EsignError:
        return
    assert not report.valid


#: fuzz csr, 2026-11-29: request version 1 made cryptography raise InvalidVersion.
CSR_BAD_VERSION = base64.b64decode(
    "MIHJMHECAQEwDzENMAsGA1UEAwwERnV6ejBZMBMGByqGSMw9AgEGCCqGSM49AwEHA0IABAI/gl36Qe3M4XQL"
    "vdW/T6LKe7nVp/2P45/OyFvf9fmT/ySgrijxCAxavc54ilN9beYwJfdx04OIn/4DJ7rHm9+gADAKBggqhkjO"
    "PQQDAgNIADBdAiEAuyncIrUn/AgMaLYwBZtOPvy7LHYGBL3y2lEdxAKJsPICIGx6iWq+qaqxVcPStN4FogX6"
    "oFvZ25XGuRhPEopVoCa0"
)

#: fuzz ocsp_request, 2026-11-29: a negative serial number crashed the responder while it
#: built the answer (ValueError); a public responder must answer malformedRequest.
OCSP_REQUEST_NEGATIVE_SERIAL = base64.b64decode(
    "MHEwbzBtMGswaTANBglghkgBZQMEAgEFAAQgp10BW3+5okowoi99sHQyETC7WgC6Han+kn1HSZ/+ouEEIDIz"
    "AP////8AAHNFK9iJejPZWo6OxYFnVHed9D1TR+uGAhTxYglgkAoc8NvD24JSGfkn+6HOnQ=="
)


def test_csr_with_an_invalid_version_is_refused() -> None:
    with pytest.raises(InvalidCsrError, match="not a valid CSR version"):
        load_csr(CSR_BAD_VERSION)


def test_ocsp_responder_answers_a_negative_serial_as_malformed(pki: Pki) -> None:
    answer = ocsp.load_der_ocsp_response(pki.ca.ocsp_response(OCSP_REQUEST_NEGATIVE_SERIAL))
    assert answer.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


#: fuzz ocsp_response, 2026-11-29: an OCSPResponseStatus value outside the enumeration
#: made asn1crypto's ``.native`` raise KeyError.
OCSP_RESPONSE_ODD_STATUS = base64.b64decode(
    "MIIBNwovAKCCATAwggEsBgkrBgEFBQcwASkEggEdMIIBGTCBwKIWBBQ0ZPVNREHUkNBI+GFxPX/N7khFnhgP"
    "MjAyNjExMjkxNjEwMThaMIGUMIGRMGkwDQYJYIZIAWUDBAIBBQAEIKddAVt/uaJKMKIvfbB0KBEwu1oAuh2p"
    "/pJ9R0mf/qLhBCDMfavxjcVUStBkgzLPtKkdtsH1zrr7VJF5JMvsyeq/dAIUHakbLuQljVXHjoj7K+nLojUC"
    "IQDUFFFPON2XKUuvqHT+q7Fxr71aoBEYDzIwMjYxMTI5MTcxMDE4WjAKBgwqhkjOPQQDAgNIADBFAiAN3c9Y"
    "tFJTP43IJGJiIC+9l4LiN4oSgISH16Yr6cuiNQIhANQUUU843ZcpS6+odP6rsXGvvUaG8p0QyvKlGbZl64QP"
)


def test_ocsp_response_with_an_unknown_status_is_refused() -> None:
    with pytest.raises(MalformedInputError, match="not a OCSP response"):
        parse_ocsp_response(OCSP_RESPONSE_ODD_STATUS)


#: fuzz pkcs12, 2026-11-29: a MAC data structure asn1crypto indexes past its end raised
#: IndexError from check_pkcs12_bounds.
PKCS12_SHORT_MAC = base64.b64decode(
    "MIIERwIBAzCCA/QGCSqGSIb3DQEHAaCCA+UEggAAAAAAAAKPAosGCSqGSIb3DQEHBqCCAnwwggJ4AgEAMIIC"
    "cQYJKoZIhvcNAQcBMGAGCSqGSIb3DQEFDTBTMDIGCSqGSIb3DQEFDDAlBBB+5bolAPGJWzU3N/tdL0XoAgMJ"
    "J8AwDAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEBeiSim6ZR+41DUBfWjk5FiAggIADQR3UbY4dEdUl4sW"
    "8/SpHiAicyoY0biUsaEz0jQzVF+fMnDlHYNvMFucjG3R4+PCBDJXNoxeASBj6kf3jgY9cwHiADacchn/uBHy"
    "yRsDXihrVwMtnAsSpXyUv6BSsNscyhwFpj0qfPm04EEuzxWXufnqecnh3lv3K3N3RNxXwjgR508wwTTIBprm"
    "ezjkbr94fArOWYMKfKt+eAd4+1xayGhJLqEJWBauKicWYx3XwPFF13t1KV+WrLcIHDNQptXwVN2AJGzjSKi7"
    "fh09SeyNPobRkhT6d6zeysgmwD02rEls3pv5EbY9W8N7xpXCuAt3dGh2QuUNdIZaspl0AjHu3i9y8s+JKOqf"
    "lCsu7xL4gapZwGQTo8qFzeEznE4BfG6S6a2ZTqlrSy20RB+rbcJaoCeMgeoBNWO856EpODXklapTr0Yt4GB0"
    "KxLBgMuqTBFbMYUh/wFQNnXE939s3sy6fa7/a3IhQyr+ePL4ltf9ngiNSbxmtj3Rmv325dVQcpSU7Iaetp7w"
    "jOdxz6D5DF6BnxnUOXcLhmeLlJXBCsJWFcYq1XmnpDUYK1VKFsU0YNNYGHMoAe7Mp4khbZWxgQKZeoxAFqwA"
    "LFSRHPt6WauXwKkdo9A7uNF+iExrXSnI+uWe4e4koDAusMIs9TfSjOefaGIPopH7QnDI0pKmIxWWW1AwggFK"
    "BgkqhkiG9w0BBwGgggE7N4IwAQQBgjMwggEvBgsqhkiG9w0BDAoBAqCB+DCB9TBgBgkqhkiG9w0BBQ0wUzAy"
    "BgkqhkiG9w0BBQwwJQQQY6Y0Q0K3MbR5oJf4D0Ph1gIDCSfAMAwGCCqGSIb3DQIJBQAwHQYJYIZIAWUDBAEq"
    "BBAJd27eIBic1xKsTNeXN6j3BIGQ9xsrqa35LLzizK6HuhV4EdnGTLvmJ4Nbpu0p6+9+OhGiEIFsLuks0Yy8"
    "XGv1PUs2tUCGipeWdsBnQmHoNyD56OqWzhz5d4iBm6j4X+7qWOrBzShsxddUNs/Nw2BmO/3sXqiqiJ9+fb8Q"
    "WMSnyEC0CmG7tjpx5Tdv7ArGjOw609OZ2ykbaweDDMkqWHEqCKpBMSUwIwYJKoZIhvcNAQkVMRYEFO7sFQgy"
    "2KC8EaO9SIDamwTQTP6vMEowMTANBglghkgBBAEFAmUDAAQglfvn1fxy0tYmw5CdrYnum9QTILcBO9GiSoWj"
    "spoArp0EECQTv+jPPptK8+ghgELl1IwCAwknwA=="
)


def test_pkcs12_with_a_short_mac_structure_is_refused() -> None:
    with pytest.raises(MalformedInputError, match="PKCS#12"):
        parse_pkcs12(PKCS12_SHORT_MAC, b"pw")


#: fuzz trusted_list, 2026-11-29: a PEM bundle whose CA key has an unknown algorithm OID
#: (1.2.840.10045.66.1) made cryptography raise UnsupportedAlgorithm.
PEM_BUNDLE_UNKNOWN_KEY = (
    b"-----BEGIN CERTIFICATE-----\n"
    b"MIIBcjCCARigAwIBAgIUAfRRxoXPkJ0isjptcHrKT9P6fvMwCgYIKoZIzj0EAwIw\n"
    b"FzEVMBMGA1UEAwwMRnV6eiBSb290IENBMB4XDTI2MTEyOTE2MDkxMVoXDTM2MTEy\n"
    b"NjE2MTQxMVowFzEVMBMGA1UEAwwMRnV6eiBSb290IENBMFkwEwYHKoZIzj1CAQYI\n"
    b"KoZIzj0DAQcDQgAEm2hT/ntaNj8sQnDtwoQyiGyPvBE5EXnjvGGMNGWi0dxYzO79\n"
    b"73YXys8dh0aktmwn1fqhlv3/tfL64DC0d61X8aNCMEAwDwYDVR0TAQH/BAUwAwEB\n"
    b"/zAOBgNVHQ8BAf8EBAMCAYYwHQYDVR0OBBYEFOtRlfiBID+1QK+Kc3xEU8BsRrAj\n"
    b"MAoGCCqGSM49BAMCA0gAMEUCIB8+RyEUQeyWD1qWmDRKokZdubpbturDCWki43Ls\n"
    b"+xSeAiEA/gbWiMYS3a/oSS9K2kmpuTrp+yjqQFXa+vLCNkZ2MZs=\n"
    b"-----END CERTIFICATE-----\n"
)


def test_pem_bundle_with_an_unknown_key_type_is_refused() -> None:
    with pytest.raises(TrustedListError, match="not a PEM bundle"):
        read_trusted_list(PEM_BUNDLE_UNKNOWN_KEY, verify_signature=False)


#: fuzz trusted_list, 2026-11-29: XML that is not UTF-8 raised UnicodeDecodeError.
TRUSTED_LIST_NOT_UTF8 = (
    b"<<<<<<<<<<<<<<<<<(<<<<<<<<<<<<<<<<<<<<<<"
    b"<<<<<<<<<<<<<<TIFICATE----wIBTM2GSM49BA<"
    b"<<<<<<<<<<<<<<<<<<<<<-----BEGIN C\x01\x99\x99\x99\x99\x99\x99"
    b"\x99\x99\x99\x99\x99\x99\x99\x99\x99\x99\x99\x99\x99\x00ERTIFICATE----wIBTM1GSM49B"
    b"AMSC"
)


def test_trusted_list_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(TrustedListError, match="not UTF-8"):
        read_trusted_list(TRUSTED_LIST_NOT_UTF8, verify_signature=False)


#: fuzz smime, 2026-11-29: a non-ASCII byte in Content-Transfer-Encoding made the stdlib
#: parser (compat32) return an ``email.header.Header``, whose missing ``.strip`` escaped as
#: AttributeError.
SMIME_ODD_ENCODING = (
    b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
    b"Content-Transfer-Encoding: \xffbase64\r\n\r\nMIIB\r\n"
)


def test_smime_with_a_non_ascii_transfer_encoding_is_refused() -> None:
    from esign.signing.smime import read_smime

    with pytest.raises(MalformedInputError, match="unknown Content-Transfer-Encoding"):
        read_smime(SMIME_ODD_ENCODING)


def test_smime_protocol_parameter_in_rfc2231_form_is_read() -> None:
    """``protocol*=`` (RFC 2231) came back as a tuple; it is the same protocol."""
    from esign.signing.smime import read_smime

    message = (
        b"Content-Type: multipart/signed; boundary=x;"
        b" protocol*=us-ascii''application%2Fpkcs7-signature\r\n\r\n"
        b"--x\r\nhello\r\n--x\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIIB\r\n--x--\r\n"
    )
    read = read_smime(message)
    assert read.content == b"hello"
    assert read.signature == base64.b64decode("MIIB")


#: fuzz certificate, 2026-11-29: a subject attribute whose OID asn1crypto types as an
#: ObjectDescriptor made pyHanko's name comparison raise AttributeError inside path
#: building (the CRL finding above, met again through path validation).
CERT_ODD_SUBJECT = base64.b64decode(
    "MIIBpDCCAUqgAwIBAgIUVSHj4cMOrkYd01fap4qDCLKULtEwCgYIKoZIzj0EAwIwFzEVMBMGA1UEAwwMRnV6"
    "eiBSb290IENBMB4XDTI2MTEyOTE3NTAzN1oXDTI3MTEyOTE3NTUzN1owFjEUMBIGA04EAycLRnV6eiBTaWdu"
    "ZXIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARDADzQiIkpyXFSfAEyp6EDh4dSRpYoHwQPaAsL/JkaePl3"
    "MyGMk9INpTILJ2XP0eh3PjYetpPnheHSZTMdxLcWo3UwczAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIG"
    "wDAdBgNVHQ4EFgQU7lwnZqmVCCqh9oUEK+rx+R9ImM8wHwYDVR0jBBj//yz/OoNn0rH8GUaxE+Uztd4Pu4kS"
    "LFwwEwYDVR0lBAwwCgYIKwYBBQUHAwQwCgYIKoZIzj0EAwIDSAAwRQIhAK6qV8jwh7jIzBc9gQypLUh7yGdA"
    "jXrL/kXwSBbzZR4OAiB6g4AvwF6ami8qzdIVtDXDV0sNwSBjnliepUrij1drNQ=="
)


def test_certificate_with_an_odd_subject_attribute_is_a_malformed_path(pki: Pki) -> None:
    (certificate,) = parse_certificates(CERT_ODD_SUBJECT)
    result = pki.trust.validate(certificate, at=certificate.not_valid_before_utc)
    assert not result.trusted
    assert [f.code for f in result.failures] == ["malformed"]
    assert "name attribute of the wrong type" in result.failures[0].message


#: fuzz crl, 2026-11-29 (the ten-minute run): a BIT STRING inside the issuer name whose
#: chunks asn1crypto indexes past their end raised IndexError, which the CRL reader did
#: not catch; every reader now catches one tuple, ``esign.errors.PARSE_ERRORS``.
CRL_BAD_BIT_STRING = base64.b64decode(
    "MIHPMHcCAQEwCgYIKoZIzj0EAwIwFzEVMBMGA1UEVjAMZQAkAOMAPAR0IEMBFw0yNjExMjkxODA4MTZaFw0y"
    "NjEyMDYxODA4MTZaoC8wLTAKBgMkHRQEAwIBAjAfBgNVHSMEGDAWgBTTbFzhJxskYMQyrMMBmlLLUAx53TAK"
    "BggqhkjOPQQDAgNIADBFAiEAy1fm5tYP+DO9A//30Fcz1jzJH7AhRO6smQybOmZqqwUCIFtGf2hC1KXyFmOP"
    "xOoJDXC19e6plx+SyCzM4TVcF4ld"
)


def test_crl_with_a_bad_bit_string_in_its_issuer_is_refused() -> None:
    with pytest.raises(MalformedInputError, match="CRL"):
        parse_crl(CRL_BAD_BIT_STRING)


#: fuzz smime, 2026-11-29 (the ten-minute run after the fix above): an RFC 2231 boundary
#: parameter whose charset holds a NUL byte made the stdlib parser's ``str(raw, charset)``
#: raise ValueError out of ``read_smime``.
SMIME_NUL_CHARSET = (
    b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";'
    b" boundary*=us\x00ascii''abc\r\n\r\nx"
)


def test_smime_with_a_nul_in_a_parameter_charset_is_refused() -> None:
    from esign.signing.smime import is_smime, read_smime

    with pytest.raises(MalformedInputError, match="not a readable MIME message"):
        read_smime(SMIME_NUL_CHARSET)
    assert not is_smime(SMIME_NUL_CHARSET)
