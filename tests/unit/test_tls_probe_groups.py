"""tls_probe's TLS 1.2 group list: measured curves plus TLS 1.3's elliptic curves, the latter named as inferred.

Found by the configuration corpus (tests/integration/test_tls_config_corpus.py): for a TLS 1.2 + 1.3
server, groups_by_version["TLSv1.2"] held only the curve the suite chain met (x25519), while
`openssl s_client -tls1_2 -groups G` showed the server accepts every curve TLS 1.3 named.
"""

from iryo_guard.tls.ciphers import GROUP_IDS
from iryo_guard.tls.probe import legacy_group_list

X25519, P256, P384, P224 = (GROUP_IDS[n] for n in ("x25519", "secp256r1", "secp384r1", "secp224r1"))
FFDHE2048 = GROUP_IDS["ffdhe2048"]


def test_tls13_curves_count_for_tls12_once_tls12_ecdhe_works():
    listed, inferred = legacy_group_list([X25519], [X25519, P256, P384, FFDHE2048])
    assert listed == [X25519, P256, P384] and inferred == [P256, P384]   # no FFDHE: TLS 1.3 only


def test_measured_tls12_only_curves_come_first_and_are_not_inferred():
    listed, inferred = legacy_group_list([X25519, P224], [X25519, P256])
    assert listed == [X25519, P224, P256] and inferred == [P256]


def test_no_tls12_ecdhe_means_no_tls12_groups():
    """A TLS 1.2 suite list without ECDHE (no curve seen): nothing is inferred from TLS 1.3."""
    assert legacy_group_list([], [X25519, P256]) == ([], [])
