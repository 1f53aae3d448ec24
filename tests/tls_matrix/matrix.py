"""The TLS test matrix: real nginx and Apache configurations, each with the profile it is judged
against and the checks that must fail because of how it was configured.

`fails` is the design of the configuration (what was deliberately broken), not a recorded
result: the tests assert that tls_probe finds exactly these violations and that a verdict
computed from sslyze's observations agrees.
"""

from dataclasses import dataclass, field

from tests.tls_matrix.servers import Site

C11_SUITES = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
GOOD_CURVES = "X25519:prime256v1:secp384r1"
ECDHE_AEAD = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256"
DHE_AEAD = "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256"

# nginx: `ssl_verify_client on` alone refuses only at the HTTP layer; VerifyMode makes OpenSSL
# refuse a client without certificate in the handshake itself (verified in this matrix).
NGINX_CLIENT_AUTH = ["ssl_client_certificate {client_ca};", "ssl_verify_client on;",
                     "ssl_conf_command VerifyMode Peer,Request,Require;"]
APACHE_CLIENT_AUTH = ["SSLVerifyClient require", "SSLCACertificateFile {client_ca}"]


@dataclass
class Case:
    site: Site
    profile: str
    fails: set = field(default_factory=set)     # check ids (without the c11.tls. prefix) that must fail
    mentions: tuple = ()                        # words the violations must contain
    client_auth: tuple = ("required", "handshake")
    sslyze_blind: bool = False                  # sslyze cannot see the violation (documented disagreement)

    @property
    def name(self):
        return self.site.name


def _nginx(name, directives, leaf="rsa2048"):
    return Site(name, "nginx", directives, leaf=leaf)


def _apache(name, directives, leaf="rsa2048"):
    return Site(name, "apache", directives, leaf=leaf)


def cases():
    tls13 = ["ssl_protocols TLSv1.3;", "ssl_ecdh_curve %s;" % GOOD_CURVES,
             "ssl_conf_command Ciphersuites %s;" % C11_SUITES]
    tls12_13 = ["ssl_protocols TLSv1.2 TLSv1.3;", "ssl_ecdh_curve %s;" % GOOD_CURVES,
                "ssl_conf_command Ciphersuites %s;" % C11_SUITES]
    a13 = ["SSLProtocol -all +TLSv1.3", "SSLOpenSSLConfCmd Curves %s" % GOOD_CURVES,
           "SSLCipherSuite TLSv1.3 %s" % C11_SUITES]
    a12 = ["SSLProtocol -all +TLSv1.2", "SSLOpenSSLConfCmd Curves %s" % GOOD_CURVES]
    return [
        # --- compliant
        Case(_nginx("nginx-c11", tls13 + NGINX_CLIENT_AUTH + ['add_header Strict-Transport-Security "max-age=31536000"'
                                                             ' always;'], leaf="ec256"), "mhlw-c11"),
        Case(_apache("apache-c11", a13 + APACHE_CLIENT_AUTH), "mhlw-c11"),
        Case(_apache("apache-c11-tls12", ["SSLProtocol -all +TLSv1.2 +TLSv1.3", "SSLCipherSuite %s" % ECDHE_AEAD,
                                          "SSLHonorCipherOrder on", "SSLOpenSSLConfCmd Curves %s" % GOOD_CURVES]
                     + APACHE_CLIENT_AUTH),
             "mhlw-c11-tls12"),
        Case(_nginx("nginx-cryptrec-high", tls12_13 + ["ssl_ciphers %s;" % ECDHE_AEAD]), "cryptrec-high",
             client_auth=("none", None)),
        # six TLS 1.2 suites, ECDHE and DHE (RFC 7919 ffdhe2048 prime): the longest compliant list here
        Case(_nginx("nginx-c11-tls12-dhe", tls12_13 + ["ssl_ciphers %s:%s;" % (ECDHE_AEAD, DHE_AEAD),
                                                       "ssl_dhparam {dh2048};"] + NGINX_CLIENT_AUTH),
             "mhlw-c11-tls12"),
        # --- protocol versions and suites
        Case(_nginx("nginx-old-protocols", ["ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;",
                                            "ssl_ciphers ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0;",
                                            "ssl_ecdh_curve %s;" % GOOD_CURVES] + NGINX_CLIENT_AUTH),
             "mhlw-c11-tls12", {"protocol_versions", "cipher_suites"}, ("TLSv1.0 is accepted", "TLSv1.1 is accepted")),
        Case(_nginx("nginx-cbc", tls12_13 + ["ssl_ciphers ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-GCM-SHA384;"]
                    + NGINX_CLIENT_AUTH), "mhlw-c11-tls12", {"cipher_suites"}, ("CBC mode",)),
        Case(_apache("apache-sha1-mac", a12 + ["SSLCipherSuite ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES256-GCM-SHA384"]
                     + APACHE_CLIENT_AUTH), "mhlw-c11-tls12", {"cipher_suites"}, ("SHA-1 MAC",)),
        # --- key exchange
        Case(_nginx("nginx-static-rsa", ["ssl_protocols TLSv1.2;", "ssl_ecdh_curve %s;" % GOOD_CURVES,
                                         "ssl_ciphers AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384;"]
                    + NGINX_CLIENT_AUTH), "mhlw-c11-tls12", {"cipher_suites", "key_exchange"},
             ("RSA key exchange", "no forward secrecy")),
        # nginx, because Apache 2.4.71 with OpenSSL 3 kept its automatic 2048-bit group despite DHParameters.
        Case(_nginx("nginx-dhe1024", ["ssl_protocols TLSv1.2;", "ssl_ecdh_curve %s;" % GOOD_CURVES,
                                      "ssl_dhparam {dh1024};",
                                      "ssl_ciphers DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0;"]
                    + NGINX_CLIENT_AUTH), "mhlw-c11-tls12", {"key_exchange"}, ("1024-bit prime",)),
        Case(_nginx("nginx-weak-group", ["ssl_protocols TLSv1.2;", "ssl_ecdh_curve secp224r1:prime256v1;",
                                         "ssl_ciphers %s;" % ECDHE_AEAD] + NGINX_CLIENT_AUTH),
             "mhlw-c11-tls12", {"key_exchange"}, ("group secp224r1",)),
        # secp224r1 exists only in TLS <= 1.2; sslyze tests groups at the highest version only (TLS 1.3 here).
        Case(_nginx("nginx-weak-group-tls12-only", ["ssl_protocols TLSv1.2 TLSv1.3;",
                                                    "ssl_ecdh_curve X25519:prime256v1:secp224r1;",
                                                    "ssl_conf_command Ciphersuites %s;" % C11_SUITES,
                                                    "ssl_ciphers %s;" % ECDHE_AEAD] + NGINX_CLIENT_AUTH),
             "mhlw-c11-tls12", {"key_exchange"}, ("group secp224r1",), sslyze_blind=True),
        # --- certificates
        Case(_apache("apache-rsa1024", a13 + ["SSLCipherSuite DEFAULT:@SECLEVEL=0"] + APACHE_CLIENT_AUTH,
                     leaf="rsa1024"), "mhlw-c11", {"certificate"}, ("RSA key of 1024 bits",)),
        Case(_nginx("nginx-sha1-cert", tls13 + ["ssl_ciphers DEFAULT:@SECLEVEL=0;"] + NGINX_CLIENT_AUTH, leaf="sha1"),
             "mhlw-c11", {"certificate"}, ("signed with sha1",)),
        Case(_nginx("nginx-expired", tls13 + NGINX_CLIENT_AUTH, leaf="expired"), "mhlw-c11", {"certificate"},
             ("the leaf 'CN=localhost, O=iryo-guard test' expired on",)),
        Case(_apache("apache-nosan", a13 + APACHE_CLIENT_AUTH, leaf="nosan"), "mhlw-c11", {"certificate"},
             ("no subjectAltName",)),
        # --- client authentication
        Case(_nginx("nginx-no-client-auth", list(tls13)), "mhlw-c11", {"client_auth"}, ("(none)",),
             client_auth=("none", None)),
        Case(_apache("apache-client-optional", a13 + ["SSLVerifyClient optional", "SSLCACertificateFile {client_ca}"]),
             "mhlw-c11", {"client_auth"}, ("(optional)",), client_auth=("optional", None)),
        Case(_nginx("nginx-client-http-only", tls13 + ["ssl_client_certificate {client_ca};", "ssl_verify_client on;"]),
             "mhlw-c11", {"client_auth"}, ("only the HTTP layer refuses",), client_auth=("required", "http")),
        # --- a stock Debian nginx TLS server block: many violations at once
        Case(_nginx("nginx-debian-default", ["ssl_protocols TLSv1.2 TLSv1.3;"]), "mhlw-c11",
             {"protocol_versions", "cipher_suites", "key_exchange", "client_auth"}, ("TLSv1.2 is accepted",),
             client_auth=("none", None)),
    ]
