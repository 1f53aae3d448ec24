import re
import shutil
import subprocess
from pathlib import Path

import pytest

from iryo_guard.tls import ciphers

TESTSSL_MAPPING = Path("/etc/testssl/cipher-mapping.txt")


def _openssl_suites():
    out = subprocess.run(["openssl", "ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                         capture_output=True, text=True, check=True).stdout
    suites = {}
    for line in out.splitlines():
        high, low = line.split()[0].split(",")
        suites[int(high, 16) << 8 | int(low, 16)] = line.split()[2]
    return suites


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
def test_every_suite_the_local_openssl_can_serve_is_known_by_its_iana_name():
    table = {**ciphers.LEGACY_SUITES, **ciphers.TLS13_SUITES}
    for ident, name in _openssl_suites().items():
        assert table.get(ident) == name, hex(ident)


@pytest.mark.skipif(not TESTSSL_MAPPING.exists(), reason="testssl.sh mapping not installed")
def test_names_agree_with_testssl_mapping():
    table = {**ciphers.LEGACY_SUITES, **ciphers.TLS13_SUITES}
    checked = 0
    for line in TESTSSL_MAPPING.read_text().splitlines():
        parts = re.findall(r"0x([0-9A-Fa-f]{2})", line.split()[0])
        if len(parts) != 2:
            continue
        ident = int(parts[0], 16) << 8 | int(parts[1], 16)
        if ident in table:
            assert table[ident] == line.split()[3], hex(ident)
            checked += 1
    assert checked > 300


def test_every_suite_sslyze_tries_is_in_the_table():
    repository = pytest.importorskip("sslyze.plugins.openssl_cipher_suites.cipher_suites").CipherSuitesRepository
    from sslyze.server_connectivity import TlsVersionEnum

    for version in TlsVersionEnum:
        if version == TlsVersionEnum.SSL_2_0:
            continue
        missing = [s.name for s in repository.get_all_cipher_suites(version) if s.name not in ciphers.NAME_TO_ID]
        assert not missing, (version, missing)


def test_no_signalling_values_are_offered_as_suites():
    for scsv in (0x00FF, 0x5600):
        assert scsv not in ciphers.LEGACY_SUITES
    assert all(ident <= 0xFFFF for ident in ciphers.LEGACY_SUITES)
    assert set(ciphers.TLS13_SUITES) >= {0x1301, 0x1302, 0x1303, 0x1304, 0x1305}


@pytest.mark.parametrize("name,kex,mode,mac,pfs", [
    ("TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "CBC", "SHA1", False),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE", "GCM", "AEAD", True),
    ("TLS_DHE_RSA_WITH_AES_128_CCM_8", "DHE", "CCM", "AEAD", True),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE", "CBC", "SHA256", True),
    ("TLS_RSA_WITH_RC4_128_MD5", "RSA", "stream", "MD5", False),
    ("TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", "ECDH", "GCM", "AEAD", False),
    ("TLS_DHE_RSA_WITH_SEED_CBC_SHA", "DHE", "CBC", "SHA1", True),
    ("TLS_GOSTR341094_WITH_NULL_GOSTR3411", "GOSTR341094", "stream", "other", False),
    ("TLS_AES_128_CCM_8_SHA256", "TLS13", "CCM", "AEAD", True),
    ("TLS_SHA256_SHA256", "TLS13", "NULL", "SHA256", True),
])
def test_describe(name, kex, mode, mac, pfs):
    info = ciphers.describe(name)
    assert (ciphers.kex_family(name), info["mode"], info["mac"], info["pfs"]) == (kex, mode, mac, pfs)


def test_every_table_name_can_be_described():
    for name in list(ciphers.LEGACY_SUITES.values()) + list(ciphers.TLS13_SUITES.values()):
        ciphers.describe(name)


def test_groups_use_the_profile_names():
    for name in ("x25519", "x448", "secp256r1", "secp384r1", "secp521r1", "ffdhe2048", "secp224r1"):
        assert name in ciphers.GROUP_IDS
    assert ciphers.group_name(29) == "x25519"
    assert ciphers.group_name(0x9999) == "unknown_0x9999"
    assert set(ciphers.FF_GROUPS) == {256, 257, 258, 259, 260}
