"""Run sslyze 6 (Python API) on endpoints and turn its results into tls_probe's facts shape,
so iryo_guard.tls.verdict can judge sslyze's observations against the same profile.

One Scanner scans all endpoints in parallel, two requests per endpoint:
- WITH the client certificate: the six cipher-suite commands (versions and suites),
  elliptic_curves and certificate_info with the custom CA file. Without credentials sslyze
  cannot enumerate curves of a TLS 1.2 server that requires a client certificate (its
  connectivity test then reports no ECDH support), so it gets the certificate it needs.
- WITHOUT credentials: connectivity testing only, for client_auth_requirement (with
  credentials sslyze reports DISABLED; probes.md §1.5).
"""

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from sslyze import (
    ClientAuthenticationCredentials,
    ClientAuthRequirementEnum,
    Scanner,
    ScanCommand,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanStatusEnum,
)
from sslyze.plugins.certificate_info.implementation import CertificateInfoExtraArgument
from sslyze.scanner.models import ScanCommandsExtraArguments

from iryo_guard.tls.certs import leaf_facts

SUITE_COMMANDS = {
    "SSLv2": ScanCommand.SSL_2_0_CIPHER_SUITES, "SSLv3": ScanCommand.SSL_3_0_CIPHER_SUITES,
    "TLSv1.0": ScanCommand.TLS_1_0_CIPHER_SUITES, "TLSv1.1": ScanCommand.TLS_1_1_CIPHER_SUITES,
    "TLSv1.2": ScanCommand.TLS_1_2_CIPHER_SUITES, "TLSv1.3": ScanCommand.TLS_1_3_CIPHER_SUITES,
}
COMMANDS = set(SUITE_COMMANDS.values()) | {ScanCommand.ELLIPTIC_CURVES, ScanCommand.CERTIFICATE_INFO}
CLIENT_AUTH = {ClientAuthRequirementEnum.DISABLED: ("none", None),
               ClientAuthRequirementEnum.OPTIONAL: ("optional", None),
               ClientAuthRequirementEnum.REQUIRED: ("required", "handshake")}


def requests(port, ca_file, client_cert, client_key, server_name="localhost", host="127.0.0.1"):
    location = ServerNetworkLocation(hostname=server_name, port=port, ip_address=host)
    credentials = ClientAuthenticationCredentials(certificate_chain_path=Path(client_cert), key_path=Path(client_key))
    full = ServerScanRequest(
        server_location=location,
        network_configuration=ServerNetworkConfiguration(tls_server_name_indication=server_name,
                                                         tls_client_auth_credentials=credentials),
        scan_commands=COMMANDS,
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(ca_file))))
    auth_only = ServerScanRequest(
        server_location=location,
        network_configuration=ServerNetworkConfiguration(tls_server_name_indication=server_name),
        scan_commands=set())
    return [full, auth_only]


@dataclass
class SslyzeResult:
    full: object        # ServerScanResult with credentials
    auth_only: object   # ServerScanResult without credentials (client_auth_requirement)


def scan(ports, ca_file, client_cert, client_key, server_name="localhost", host="127.0.0.1"):
    """{port: SslyzeResult} for every port, all scanned in parallel by one Scanner."""
    scanner = Scanner()
    scanner.queue_scans([r for port in ports
                         for r in requests(port, ca_file, client_cert, client_key, server_name, host)])
    found = {}
    for result in scanner.get_results():
        kind = "full" if result.network_configuration.tls_client_auth_credentials else "auth_only"
        found.setdefault(result.server_location.port, {})[kind] = result
    return {port: SslyzeResult(**parts) for port, parts in found.items()}


def _attempt(result, command):
    attempt = getattr(result.scan_result, command.value)
    if attempt.result is None:
        raise RuntimeError("sslyze %s failed: %s %s" % (command.value, attempt.error_reason, attempt.error_trace))
    return attempt.result


def facts(both, ca_file, target="sslyze"):
    """sslyze's observations in the shape iryo_guard.tls.verdict.evaluate() judges."""
    result = both.full
    for part in (both.full, both.auth_only):
        if part.scan_status != ServerScanStatusEnum.COMPLETED:
            raise RuntimeError("sslyze could not scan %s: %s" % (target, part.connectivity_error_trace))
    suites, dh_sizes = {}, []
    for version, command in SUITE_COMMANDS.items():
        accepted = _attempt(result, command).accepted_cipher_suites
        if accepted:
            suites[version] = [a.cipher_suite.name for a in accepted]
            dh_sizes += [a.ephemeral_key.size for a in accepted
                         if version != "TLSv1.3" and type(a.ephemeral_key).__name__ == "DhEphemeralKeyInfo"]
    protocols = [v for v in SUITE_COMMANDS if v in suites]
    curves = _attempt(result, ScanCommand.ELLIPTIC_CURVES)
    groups = [c.name.lower() for c in curves.supported_curves or []]
    mode, enforced_at = CLIENT_AUTH[both.auth_only.connectivity_result.client_auth_requirement]
    return {
        "target": target,
        "protocols": protocols,
        "suites": suites,
        "groups": groups,
        "groups_by_version": {protocols[-1]: groups} if protocols else {},
        "tested_groups": [c.name.lower() for c in (curves.supported_curves or []) + (curves.rejected_curves or [])],
        "dh_bits": min(dh_sizes) if dh_sizes else None,
        "certificate": _certificate(_attempt(result, ScanCommand.CERTIFICATE_INFO), ca_file),
        "client_auth": {"mode": mode, "enforced_at": enforced_at, "with_cert_ok": None},
        "extras": {},
        "incomplete": [],
    }


def _certificate(info, ca_file):
    deployment = info.certificate_deployments[0]
    leaf_der = deployment.received_certificate_chain[0].public_bytes(Encoding.DER)
    validation = [r for r in deployment.path_validation_results if Path(r.trust_store.path) == Path(ca_file)][0]
    cert = leaf_facts(leaf_der)
    cert.update(chain_valid=validation.was_validation_successful, chain_error=validation.validation_error,
                validated_for=info.hostname_used_for_server_name_indication, trust_anchors=str(ca_file),
                chain_length=len(deployment.received_certificate_chain), source="sslyze certificate_info")
    return cert


def scan_endpoints(endpoints, ca_file, client_cert, client_key, host="127.0.0.1"):
    """{(port, server_name): SslyzeResult} for several names per port (SNI virtual hosts), all
    scanned in parallel by one Scanner."""
    scanner = Scanner()
    scanner.queue_scans([r for port, name in endpoints
                         for r in requests(port, ca_file, client_cert, client_key, name, host)])
    found = {}
    for result in scanner.get_results():
        kind = "full" if result.network_configuration.tls_client_auth_credentials else "auth_only"
        key = (result.server_location.port, result.network_configuration.tls_server_name_indication)
        found.setdefault(key, {})[kind] = result
    return {key: SslyzeResult(**parts) for key, parts in found.items()}
