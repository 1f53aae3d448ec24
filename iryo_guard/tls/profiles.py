"""TLS profiles (data/tls_profiles.yml): load, resolve `extends`, keep source and confidence.

A profile maps requirement keys to {value, source, confidence[, note]}. `certificate` holds
such requirements one level down. A profile that `extends` another inherits every key it
does not set itself; the report shows each value's own source and confidence, so nothing
is merged inside a key.
"""

from functools import lru_cache


from .. import DATA_DIR, load_yaml
from .ciphers import VERSIONS

PROFILES_FILE = DATA_DIR / "tls_profiles.yml"
META_KEYS = ("title_ja", "title_en", "document", "extends")
REQUIRED_KEYS = ("protocols", "tls13_suites", "tls12_suites", "groups", "min_dh_bits", "key_exchange",
                 "certificate", "client_auth")
CERTIFICATE_KEYS = ("rsa_min_bits", "ec_curves", "signature_hashes", "require_subject_alt_name",
                    "require_valid_chain")
CONFIDENCES = ("confirmed", "secondary", "unconfirmed", "computed", "not_from_guideline")
# What kind of source a value rests on (data/tls_profiles.yml header), and how the report says it.
BASES = {
    "mhlw_guideline": "the MHLW guideline's own words",
    "guideline_3.0.1": "CRYPTREC 3.0.1",
    "guideline_example": "the 3.0.1 guideline's example as a third party quotes it",
    "guideline_2.0_carried_over": "carried over from the 2.0 guideline, not found for 3.0.1",
    "example_config": "a public configuration, not the guideline",
    "computed": "our OpenSSL expansion of a quoted value",
    "none": "no cited source",
}
# Values a reader must not take as the guideline's own words: the evidence says so.
WEAK_CONFIDENCES = ("unconfirmed", "computed", "not_from_guideline")
CLIENT_AUTH_VALUES = ("required", "not_required")


class ProfileError(ValueError):
    """data/tls_profiles.yml is malformed: fix the data, not the code."""


class Profile:
    """One resolved profile. requirement('certificate.rsa_min_bits') -> {value, source, confidence}."""

    def __init__(self, profile_id, data):
        self.id = profile_id
        self.data = data

    def requirement(self, key):
        node = self.data
        for part in key.split("."):
            node = node[part]
        return node

    def value(self, key):
        return self.requirement(key)["value"]

    def expected(self, key):
        """What a finding's `expected` shows for one requirement: value with its provenance."""
        req = self.requirement(key)
        shown = {"value": req["value"], "source": req["source"], "confidence": req["confidence"],
                 "basis": req["basis"]}
        for extra in ("note", "unsourced"):
            if req.get(extra):
                shown[extra] = req[extra]
        return shown

    def title(self):
        return self.data.get("title_en", self.id)


def _check_requirement(req, where):
    if not isinstance(req, dict) or not {"value", "source", "confidence"} <= set(req):
        raise ProfileError("%s must be a mapping with value, source and confidence" % where)
    if req["confidence"] not in CONFIDENCES:
        raise ProfileError("%s: confidence %r is not one of %s" % (where, req["confidence"], ", ".join(CONFIDENCES)))
    if req.get("basis") not in BASES:
        raise ProfileError("%s: basis %r is not one of %s" % (where, req.get("basis"), ", ".join(BASES)))
    unsourced = req.get("unsourced")
    if unsourced is not None and not (isinstance(unsourced, dict) and {"values", "confidence", "why"} <= set(unsourced)
                                      and set(unsourced["values"]) <= set(req["value"])):
        raise ProfileError("%s: unsourced must list some of the values with confidence and why" % where)


def _validate(profile_id, data):
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ProfileError("profile %s lacks %s" % (profile_id, ", ".join(missing)))
    for key, req in data.items():
        if key in META_KEYS:
            continue
        if key == "certificate":
            for sub in CERTIFICATE_KEYS:
                if sub not in req:
                    raise ProfileError("profile %s: certificate lacks %s" % (profile_id, sub))
                _check_requirement(req[sub], "profile %s: certificate.%s" % (profile_id, sub))
            continue
        _check_requirement(req, "profile %s: %s" % (profile_id, key))
    unknown = [v for v in data["protocols"]["value"] if v not in VERSIONS]
    if unknown:
        raise ProfileError("profile %s: unknown protocol versions %s (known: %s)"
                           % (profile_id, unknown, ", ".join(VERSIONS)))
    if data["client_auth"]["value"] not in CLIENT_AUTH_VALUES:
        raise ProfileError("profile %s: client_auth must be one of %s" % (profile_id, CLIENT_AUTH_VALUES))


def _resolve(profile_id, raw, seen=()):
    if profile_id not in raw:
        raise ProfileError("profile %r is not defined" % profile_id)
    if profile_id in seen:
        raise ProfileError("profiles extend each other in a loop: %s" % " -> ".join(seen + (profile_id,)))
    own = raw[profile_id]
    if not isinstance(own, dict):
        raise ProfileError("profile %s must be a mapping" % profile_id)
    parent_id = own.get("extends")
    merged = dict(_resolve(parent_id, raw, seen + (profile_id,))) if parent_id else {}
    merged.update(own)
    return merged


def parse_profiles(document):
    if not isinstance(document, dict) or not isinstance(document.get("profiles"), dict):
        raise ProfileError("tls profiles: top level must have a `profiles` mapping")
    raw = document["profiles"]
    profiles = {}
    for profile_id in raw:
        data = _resolve(profile_id, raw)
        _validate(profile_id, data)
        profiles[profile_id] = Profile(profile_id, data)
    return profiles


@lru_cache(maxsize=4)
def load_profiles(path=PROFILES_FILE):
    with open(path, encoding="utf-8") as handle:
        return parse_profiles(load_yaml(handle.read()))


def get_profile(profile_id, path=PROFILES_FILE):
    profiles = load_profiles(path)
    try:
        return profiles[profile_id]
    except KeyError:
        raise ProfileError("unknown TLS profile %r; valid: %s" % (profile_id, ", ".join(sorted(profiles)))) from None


def profile_ids(path=PROFILES_FILE):
    return sorted(load_profiles(path))
