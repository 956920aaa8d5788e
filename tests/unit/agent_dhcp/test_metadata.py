"""The metadata proxy's headers: what Nova trusts comes from the agent, never the VM."""

from __future__ import annotations

import hashlib
import hmac

from neutrino.agent.dhcp import metadata
from neutrino.agent.dhcp.plan import Instance


def test_signature_is_nova_s_hmac_sha256_hex() -> None:
    expected = hmac.new(b"s3cret", b"inst-1", hashlib.sha256).hexdigest()
    assert metadata.sign("s3cret", "inst-1") == expected
    assert metadata.sign("other", "inst-1") != expected


def test_a_vm_cannot_set_the_headers_nova_trusts() -> None:
    incoming = {"Accept": "application/json", "Host": "169.254.169.254",
                "X-Instance-ID": "someone-else", "x-tenant-id": "p-other",
                "X-Instance-ID-Signature": "f00", "X-Forwarded-For": "10.0.0.99",
                "X-Metadata-Provider": "x", "Connection": "keep-alive"}
    headers = metadata.forwarded_headers(incoming, "10.0.0.5", Instance("inst-1", "p1"), "k")
    assert headers == {
        "Accept": "application/json",
        "X-Forwarded-For": "10.0.0.5", "X-Instance-ID": "inst-1", "X-Tenant-ID": "p1",
        "X-Instance-ID-Signature": metadata.sign("k", "inst-1")}


def test_underscore_spellings_of_trusted_headers_are_dropped() -> None:
    # WSGI servers may fold X_Tenant_ID into HTTP_X_TENANT_ID, the same key as X-Tenant-ID.
    incoming = {"Accept": "text/plain", "X_Tenant_ID": "p-other", "x_instance_id": "other",
                "X_Forwarded_For": "10.0.0.99", "X_Instance-ID_Signature": "f00",
                "Accept_Language": "en"}
    headers = metadata.forwarded_headers(incoming, "10.0.0.5", Instance("inst-1", "p1"), "k")
    assert headers == {
        "Accept": "text/plain",
        "X-Forwarded-For": "10.0.0.5", "X-Instance-ID": "inst-1", "X-Tenant-ID": "p1",
        "X-Instance-ID-Signature": metadata.sign("k", "inst-1")}
