"""How the probe names client authentication from what one handshake without a certificate saw."""

from types import SimpleNamespace

from iryo_guard.tls.probe import ProbeRequest, _client_auth
from iryo_guard.tls.session import SessionResult


def test_client_auth_from_session_observations():
    request = ProbeRequest("h", 1)

    def mode(**seen):
        auth = _client_auth(SessionResult(**seen), None, [], request)
        return auth["mode"], auth["enforced_at"]

    assert mode(ok=True, cert_requested=False, http_status=200) == ("none", None)
    assert mode(ok=True, cert_requested=True, http_status=200) == ("optional", None)
    assert mode(ok=True, cert_requested=True, alert=116) == ("required", "handshake")
    assert mode(ok=False, cert_requested=True, alert=40) == ("required", "handshake")
    assert mode(ok=False, cert_requested=False, alert=40) == (None, None)  # e.g. no shared cipher
    assert mode(ok=True, cert_requested=True, http_status=400,
                http_body="No required SSL certificate was sent") == ("required", "http")
    # without OpenSSL's message callback: alert 116 and nginx's 400 still tell, silence does not
    assert mode(ok=True, cert_requested=None, alert=116) == ("required", "handshake")
    assert mode(ok=True, cert_requested=None, http_status=200) == (None, None)
    legacy = [SimpleNamespace(picks=[(0xC02F, SimpleNamespace(cert_requested=True))])]
    auth = _client_auth(SessionResult(ok=True, cert_requested=None, http_status=200), None, legacy, request)
    assert auth["mode"] == "optional"  # the plaintext TLS 1.2 flight showed the CertificateRequest
