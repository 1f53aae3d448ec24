import copy

import pytest
import yaml

from iryo_guard.tls.ciphers import NAME_TO_ID
from iryo_guard.tls.profiles import PROFILES_FILE, ProfileError, get_profile, load_profiles, parse_profiles


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(PROFILES_FILE.read_text(encoding="utf-8"))


def test_the_four_profiles_load():
    assert sorted(load_profiles()) == ["cryptrec-high", "cryptrec-recommended", "mhlw-c11", "mhlw-c11-tls12"]


def test_extends_inherits_keys_with_their_own_provenance():
    c11 = get_profile("mhlw-c11")
    high = get_profile("cryptrec-high")
    assert c11.value("protocols") == ["TLSv1.3"]
    assert c11.requirement("protocols")["confidence"] == "confirmed"
    assert c11.value("client_auth") == "required"
    # not restated in mhlw-c11: inherited from cryptrec-high with cryptrec-high's source and confidence
    assert c11.requirement("tls12_suites") == high.requirement("tls12_suites")
    assert c11.requirement("tls12_suites")["confidence"] == "computed"
    assert c11.value("certificate.rsa_min_bits") == 2048


def test_expected_shows_value_source_and_confidence():
    shown = get_profile("mhlw-c11").expected("min_dh_bits")
    assert shown["value"] == 2048 and shown["confidence"] == "unconfirmed" and "2.0 guideline" in shown["source"]
    assert shown["basis"] == "guideline_2.0_carried_over"


def test_every_value_names_its_basis_and_the_unsourced_groups_are_marked():
    high = get_profile("cryptrec-high")
    for key in ("min_dh_bits", "certificate.rsa_min_bits", "certificate.ec_curves"):
        assert high.requirement(key)["basis"] == "guideline_2.0_carried_over", key
    groups = high.expected("groups")
    assert groups["unsourced"]["values"] == ["ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192"]
    assert groups["unsourced"]["confidence"] == "not_from_guideline"
    # gBizConnect's cipher string is not called its 高 string: it sits under the 推奨 comment
    assert "推奨セキュリティ型 for browsers" in high.requirement("tls12_suites")["source"]


def test_tls12_order_follows_the_examples_ccm_before_ccm8():
    suites = get_profile("cryptrec-high").value("tls12_suites")
    for prefix in ("TLS_ECDHE_ECDSA_WITH_AES_256", "TLS_ECDHE_ECDSA_WITH_AES_128", "TLS_DHE_RSA_WITH_AES_256",
                   "TLS_DHE_RSA_WITH_AES_128"):
        assert suites.index(prefix + "_CCM") + 1 == suites.index(prefix + "_CCM_8"), prefix


def test_profile_suites_and_groups_are_known_names():
    for profile in load_profiles().values():
        for name in profile.value("tls12_suites") + profile.value("tls13_suites"):
            assert name in NAME_TO_ID, (profile.id, name)


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ProfileError, match="valid: cryptrec-high, cryptrec-recommended, mhlw-c11, mhlw-c11-tls12"):
        get_profile("mhlw-c12")


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d["profiles"]["cryptrec-high"].update(extends="mhlw-c11"), "loop"),
    (lambda d: d["profiles"]["mhlw-c11"].update(extends="nope"), "'nope' is not defined"),
    (lambda d: d["profiles"]["cryptrec-high"].pop("groups"), "lacks groups"),
    (lambda d: d["profiles"]["mhlw-c11"]["protocols"].update(confidence="sure"), "confidence 'sure'"),
    (lambda d: d["profiles"]["mhlw-c11"]["protocols"].update(value=["TLSv1.4"]), "unknown protocol versions"),
    (lambda d: d["profiles"]["mhlw-c11"].update(client_auth={"value": "maybe", "source": "x", "basis": "none",
                                                             "confidence": "confirmed"}), "client_auth must be"),
    (lambda d: d["profiles"]["mhlw-c11"]["protocols"].pop("basis"), "basis None is not one of"),
    (lambda d: d["profiles"]["cryptrec-high"]["groups"]["unsourced"].update(values=["ffdhe1024"]),
     "unsourced must list some of the values"),
    (lambda d: d["profiles"]["cryptrec-high"]["certificate"].pop("ec_curves"), "certificate lacks ec_curves"),
    (lambda d: d["profiles"]["mhlw-c11"].update(protocols=["TLSv1.3"]), "value, source and confidence"),
])
def test_malformed_profiles_are_refused(raw, mutate, message):
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(ProfileError, match=message):
        parse_profiles(data)
