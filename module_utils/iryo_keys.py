# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recognise private keys in files without any crypto library: PEM, DER, PKCS#8, PKCS#12, OpenSSH.

Standard library only, Python >= 3.8 (runs on managed hosts).

What comes out is a description (type, size or curve, encrypted or not, how it is encrypted),
never key material: no function here returns or puts into an exception message any byte of a
key, a modulus, a private scalar or a base64 body. Error messages name offsets and tags only.

ASN.1 is read as BER (a superset of DER): PKCS#12 files written by Java or Windows use
indefinite lengths and constructed OCTET STRINGs. Structures recognised:

- PKCS#1 RSAPrivateKey (RFC 8017 A.1.2), SEC1 ECPrivateKey (RFC 5915), OpenSSL's DSA key
- PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5208, RFC 5958) with RSA, RSA-PSS, EC, Ed25519,
  Ed448, X25519, X448, DSA
- PKCS#8 EncryptedPrivateKeyInfo (PBES2 with PBKDF2 or scrypt, PKCS#12 PBE): encrypted, the key's
  algorithm is inside the ciphertext and stays unknown
- legacy OpenSSL PEM encryption (``Proc-Type: 4,ENCRYPTED`` + ``DEK-Info``)
- PKCS#12 (RFC 7292): key bags (plain PKCS#8), shrouded key bags (encrypted PKCS#8) and
  encryptedData contents (whatever is inside cannot be seen)
- openssh-key-v1 (``OPENSSH PRIVATE KEY``): cipher and the public key's type and size
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import re
import struct

MAX_DEPTH = 40
MAX_ELEMENTS = 50000

# Object identifiers -------------------------------------------------------------------------
KEY_ALGORITHMS = {
    "1.2.840.113549.1.1.1": "RSA",
    "1.2.840.113549.1.1.10": "RSA-PSS",
    "1.2.840.10045.2.1": "EC",
    "1.3.101.110": "X25519",
    "1.3.101.111": "X448",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    "1.2.840.10040.4.1": "DSA",
    "1.2.840.10046.2.1": "DH",
    "1.2.643.7.1.1.1.1": "GOST2012-256",
    "1.2.156.10197.1.301": "SM2",
}
FIXED_SIZE = {"Ed25519": 256, "X25519": 256, "Ed448": 456, "X448": 448}
CURVES = {
    "1.2.840.10045.3.1.7": ("P-256", 256),
    "1.3.132.0.34": ("P-384", 384),
    "1.3.132.0.35": ("P-521", 521),
    "1.3.132.0.10": ("secp256k1", 256),
    "1.2.840.10045.3.1.1": ("P-192", 192),
    "1.3.132.0.33": ("P-224", 224),
    "1.3.36.3.3.2.8.1.1.7": ("brainpoolP256r1", 256),
    "1.3.36.3.3.2.8.1.1.11": ("brainpoolP384r1", 384),
    "1.3.36.3.3.2.8.1.1.13": ("brainpoolP512r1", 512),
    "1.2.156.10197.1.301": ("SM2", 256),
}
PBE_SCHEMES = {
    "1.2.840.113549.1.5.13": "PBES2",
    "1.2.840.113549.1.5.3": "pbeWithMD5AndDES-CBC",
    "1.2.840.113549.1.5.10": "pbeWithSHA1AndDES-CBC",
    "1.2.840.113549.1.12.1.1": "pbeWithSHAAnd128BitRC4",
    "1.2.840.113549.1.12.1.2": "pbeWithSHAAnd40BitRC4",
    "1.2.840.113549.1.12.1.3": "pbeWithSHAAnd3-KeyTripleDES-CBC",
    "1.2.840.113549.1.12.1.4": "pbeWithSHAAnd2-KeyTripleDES-CBC",
    "1.2.840.113549.1.12.1.5": "pbeWithSHAAnd128BitRC2-CBC",
    "1.2.840.113549.1.12.1.6": "pbewithSHAAnd40BitRC2-CBC",
}
KDFS = {"1.2.840.113549.1.5.12": "PBKDF2", "1.3.6.1.4.1.11591.4.11": "scrypt"}
CIPHERS = {
    "2.16.840.1.101.3.4.1.2": "AES-128-CBC",
    "2.16.840.1.101.3.4.1.22": "AES-192-CBC",
    "2.16.840.1.101.3.4.1.42": "AES-256-CBC",
    "2.16.840.1.101.3.4.1.6": "AES-128-GCM",
    "2.16.840.1.101.3.4.1.46": "AES-256-GCM",
    "1.2.840.113549.3.7": "DES-EDE3-CBC",
    "1.3.14.3.2.7": "DES-CBC",
    "1.2.840.113549.3.2": "RC2-CBC",
    "1.2.392.200011.61.1.1.1.2": "CAMELLIA-128-CBC",
    "1.2.392.200011.61.1.1.1.4": "CAMELLIA-256-CBC",
}
PRFS = {
    "1.2.840.113549.2.7": "hmacWithSHA1",
    "1.2.840.113549.2.9": "hmacWithSHA256",
    "1.2.840.113549.2.10": "hmacWithSHA384",
    "1.2.840.113549.2.11": "hmacWithSHA512",
}
# Ciphers that no longer protect anything (single DES, 40-bit RC2/RC4, RC4).
BROKEN_CIPHERS = ("DES-CBC", "RC2-40", "pbeWithMD5AndDES-CBC", "pbeWithSHA1AndDES-CBC",
                  "pbeWithSHAAnd128BitRC4", "pbeWithSHAAnd40BitRC4", "pbewithSHAAnd40BitRC2-CBC")
OID_DATA = "1.2.840.113549.1.7.1"
OID_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
BAG_KEY = "1.2.840.113549.1.12.10.1.1"
BAG_SHROUDED = "1.2.840.113549.1.12.10.1.2"
BAG_CERT = "1.2.840.113549.1.12.10.1.3"
BAG_SAFE_CONTENTS = "1.2.840.113549.1.12.10.1.6"

# PEM labels that hold a private key (RFC 7468 and OpenSSL's legacy ones).
PEM_KEY_LABELS = ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY",
                  "DSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "ANY PRIVATE KEY")
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----(.*?)(?:(-----END \1-----)|(?=-----BEGIN )|\Z)", re.S)


class ASN1Error(ValueError):
    """Malformed ASN.1; the message names offsets and tags, never content."""


class Element:
    __slots__ = ("cls", "constructed", "tag", "content", "children")

    def __init__(self, cls, constructed, tag, content, children):
        self.cls, self.constructed, self.tag = cls, constructed, tag
        self.content, self.children = content, children

    def is_universal(self, tag):
        return self.cls == 0 and self.tag == tag

    def is_context(self, tag):
        return self.cls == 2 and self.tag == tag


class _Budget:
    def __init__(self):
        self.left = MAX_ELEMENTS

    def spend(self):
        self.left -= 1
        if self.left < 0:
            raise ASN1Error("more than %d ASN.1 elements" % MAX_ELEMENTS)


def _read_header(data, pos, end):
    if pos + 2 > end:
        raise ASN1Error("truncated header at offset %d" % pos)
    first = data[pos]
    cls, constructed, tag = first >> 6, bool(first & 0x20), first & 0x1F
    pos += 1
    if tag == 0x1F:
        tag = 0
        for _ in range(4):
            if pos >= end:
                raise ASN1Error("truncated tag at offset %d" % pos)
            byte = data[pos]
            pos += 1
            tag = (tag << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        else:
            raise ASN1Error("tag number too long at offset %d" % pos)
    if pos >= end:
        raise ASN1Error("truncated length at offset %d" % pos)
    length_byte = data[pos]
    pos += 1
    if length_byte == 0x80:
        if not constructed:
            raise ASN1Error("indefinite length on a primitive element at offset %d" % pos)
        return cls, constructed, tag, pos, None
    if length_byte & 0x80:
        count = length_byte & 0x7F
        if count > 4 or pos + count > end:
            raise ASN1Error("bad length at offset %d" % pos)
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    else:
        length = length_byte
    if pos + length > end:
        raise ASN1Error("element at offset %d runs past its container" % pos)
    return cls, constructed, tag, pos, length


def _parse_one(data, pos, end, depth, budget):
    if depth > MAX_DEPTH:
        raise ASN1Error("nested deeper than %d" % MAX_DEPTH)
    budget.spend()
    cls, constructed, tag, start, length = _read_header(data, pos, end)
    if length is None:  # BER indefinite length: children until end-of-contents (00 00)
        children, cur = [], start
        while True:
            if cur + 2 > end:
                raise ASN1Error("indefinite length without end-of-contents at offset %d" % start)
            if data[cur] == 0 and data[cur + 1] == 0:
                cur += 2
                break
            child, cur = _parse_one(data, cur, end, depth + 1, budget)
            children.append(child)
        return Element(cls, constructed, tag, None, children), cur
    stop = start + length
    if constructed:
        children, cur = [], start
        while cur < stop:
            child, cur = _parse_one(data, cur, stop, depth + 1, budget)
            children.append(child)
        return Element(cls, constructed, tag, None, children), stop
    return Element(cls, constructed, tag, data[start:stop], None), stop


def parse_der(data, allow_trailing=False):
    """Parse one BER/DER element spanning ``data`` (trailing bytes refused unless allowed)."""
    data = bytes(data)
    element, end = _parse_one(data, 0, len(data), 0, _Budget())
    if end != len(data) and not allow_trailing:
        raise ASN1Error("%d trailing bytes after the element" % (len(data) - end))
    return element


def octets(element):
    """The bytes of an OCTET STRING, primitive or constructed (BER)."""
    if element.content is not None:
        return element.content
    return b"".join(octets(child) for child in element.children)


def oid(element):
    if not element.is_universal(6) or not element.content:
        raise ASN1Error("expected an OBJECT IDENTIFIER")
    data = element.content
    parts, value = [], 0
    for byte in data:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    if not parts:
        raise ASN1Error("empty OBJECT IDENTIFIER")
    first = parts[0]
    head = [0, first] if first < 40 else ([1, first - 40] if first < 80 else [2, first - 80])
    return ".".join(str(p) for p in head + parts[1:])


def integer(element):
    if not element.is_universal(2) or element.content is None:
        raise ASN1Error("expected an INTEGER")
    return int.from_bytes(element.content, "big", signed=True)


def int_bits(element):
    """Bit length of a non-negative INTEGER (a modulus or prime), without keeping its value around."""
    if not element.is_universal(2) or not element.content:
        raise ASN1Error("expected an INTEGER")
    content = element.content.lstrip(b"\x00")
    if not content:
        return 0
    return (len(content) - 1) * 8 + content[0].bit_length()


def _seq(element, minimum=0):
    if not element.is_universal(16) or element.children is None or len(element.children) < minimum:
        raise ASN1Error("expected a SEQUENCE of at least %d elements" % minimum)
    return element.children


def curve_of(oid_text):
    name, bits = CURVES.get(oid_text, (None, None))
    return {"curve": name or oid_text, "bits": bits}


# Key structures -------------------------------------------------------------------------------

def describe_pkcs1_rsa(element):
    items = _seq(element, 9)
    if not all(item.is_universal(2) for item in items[:9]) or integer(items[0]) not in (0, 1):
        raise ASN1Error("not an RSAPrivateKey")
    return {"type": "RSA", "bits": int_bits(items[1]), "encrypted": False}


def describe_sec1_ec(element, curve_hint=None):
    items = _seq(element, 2)
    if integer(items[0]) != 1 or not items[1].is_universal(4):
        raise ASN1Error("not an ECPrivateKey")
    info = {"type": "EC", "encrypted": False, "curve": None, "bits": None}
    for item in items[2:]:
        if item.is_context(0) and item.children:
            info.update(curve_of(oid(item.children[0])))
    if info["curve"] is None and curve_hint:
        info.update(curve_of(curve_hint))
    if info["bits"] is None:
        info["bits"] = len(octets(items[1])) * 8
    return info


def describe_dsa(element):
    items = _seq(element, 6)
    if integer(items[0]) != 0 or not all(item.is_universal(2) for item in items[:6]):
        raise ASN1Error("not a DSA private key")
    return {"type": "DSA", "bits": int_bits(items[1]), "encrypted": False}


def describe_pkcs8(element):
    """PrivateKeyInfo / OneAsymmetricKey."""
    items = _seq(element, 3)
    if integer(items[0]) not in (0, 1) or not items[2].is_universal(4):
        raise ASN1Error("not a PrivateKeyInfo")
    algorithm = _seq(items[1], 1)
    alg_oid = oid(algorithm[0])
    key_type = KEY_ALGORITHMS.get(alg_oid, alg_oid)
    inner = octets(items[2])
    info = {"type": key_type, "bits": FIXED_SIZE.get(key_type), "encrypted": False}
    if key_type in ("RSA", "RSA-PSS"):
        info["bits"] = describe_pkcs1_rsa(parse_der(inner))["bits"]
    elif key_type == "EC":
        hint = oid(algorithm[1]) if len(algorithm) > 1 and algorithm[1].is_universal(6) else None
        ec = describe_sec1_ec(parse_der(inner), hint)
        info.update(curve=ec["curve"], bits=ec["bits"])
    elif key_type == "DSA" and len(algorithm) > 1 and algorithm[1].children:
        info["bits"] = int_bits(algorithm[1].children[0])
    elif key_type == "SM2":
        info.update(curve="SM2", bits=256)
    return info


def describe_encryption(algorithm):
    """AlgorithmIdentifier of an EncryptedPrivateKeyInfo -> scheme, kdf, cipher, iterations."""
    items = _seq(algorithm, 1)
    scheme_oid = oid(items[0])
    scheme = PBE_SCHEMES.get(scheme_oid)
    if scheme is None:
        raise ASN1Error("unknown encryption scheme")
    result = {"scheme": scheme}
    if scheme == "PBES2" and len(items) > 1:
        kdf, enc = _seq(items[1], 2)
        kdf_items = _seq(kdf, 1)
        result["kdf"] = KDFS.get(oid(kdf_items[0]), oid(kdf_items[0]))
        if result["kdf"] == "PBKDF2" and len(kdf_items) > 1:
            params = _seq(kdf_items[1], 2)
            result["iterations"] = integer(params[1])
            prf = [p for p in params[2:] if p.is_universal(16)]
            result["prf"] = PRFS.get(oid(prf[0].children[0]), "other") if prf else "hmacWithSHA1"
        elif result["kdf"] == "scrypt" and len(kdf_items) > 1:
            params = _seq(kdf_items[1], 4)
            result["cost"] = integer(params[1])
        result["cipher"] = CIPHERS.get(oid(_seq(enc, 1)[0]), oid(_seq(enc, 1)[0]))
    elif len(items) > 1 and items[1].children and len(items[1].children) > 1:
        result["iterations"] = integer(items[1].children[1])
        result["cipher"] = scheme
    else:
        result["cipher"] = scheme
    result["broken"] = result["cipher"] in BROKEN_CIPHERS or scheme in BROKEN_CIPHERS
    return result


def describe_encrypted_pkcs8(element):
    items = _seq(element, 2)
    if len(items) != 2 or not items[1].is_universal(4):
        raise ASN1Error("not an EncryptedPrivateKeyInfo")
    return {"type": None, "bits": None, "encrypted": True, "encryption": describe_encryption(items[0])}


def _content_info(element):
    items = _seq(element, 1)
    kind = oid(items[0])
    explicit = items[1] if len(items) > 1 and items[1].is_context(0) else None
    return kind, explicit


def _bags(safe_contents, out, depth=0):
    for bag in _seq(safe_contents):
        parts = _seq(bag, 2)
        bag_id = oid(parts[0])
        if not parts[1].is_context(0) or not parts[1].children:
            raise ASN1Error("SafeBag without a value")
        value = parts[1].children[0]
        if bag_id == BAG_KEY:
            out["keys"].append(dict(describe_pkcs8(value), bag="keyBag"))
        elif bag_id == BAG_SHROUDED:
            out["keys"].append(dict(describe_encrypted_pkcs8(value), bag="pkcs8ShroudedKeyBag"))
        elif bag_id == BAG_CERT:
            out["certificates"] += 1
        elif bag_id == BAG_SAFE_CONTENTS and depth < 4:
            _bags(value, out, depth + 1)


def describe_pkcs12(element):
    """PFX: key bags and whether each is shrouded; encrypted contents counted (opaque)."""
    items = _seq(element, 2)
    if integer(items[0]) != 3:
        raise ASN1Error("not a PFX (version 3)")
    kind, explicit = _content_info(items[1])
    if kind != OID_DATA or explicit is None or not explicit.children:
        raise ASN1Error("PFX authSafe is not data (public-key integrity mode is not read)")
    auth_safe = parse_der(octets(explicit.children[0]))
    out = {"keys": [], "certificates": 0, "encrypted_contents": 0, "mac": len(items) > 2}
    for content in _seq(auth_safe):
        kind, explicit = _content_info(content)
        if kind == OID_DATA and explicit is not None and explicit.children:
            _bags(parse_der(octets(explicit.children[0])), out)
        elif kind in (OID_ENCRYPTED_DATA, OID_ENVELOPED_DATA):
            out["encrypted_contents"] += 1
            if kind == OID_ENCRYPTED_DATA and explicit is not None and explicit.children:
                try:
                    eci = _seq(_seq(explicit.children[0], 2)[1], 2)
                    out.setdefault("contents_encryption", describe_encryption(eci[1]))
                except ASN1Error:
                    pass
    return out


def summarise_pkcs12(p12):
    """One description for a PKCS#12 file.

    encrypted is True when every key bag seen is shrouded (or when no key bag is visible because
    the contents are encrypted), False when any key lies in a plain keyBag.
    """
    plain = [k for k in p12["keys"] if not k["encrypted"]]
    shrouded = [k for k in p12["keys"] if k["encrypted"]]
    info = {"format": "pkcs12", "certificates": p12["certificates"], "key_bags": len(plain),
            "shrouded_key_bags": len(shrouded), "encrypted_contents": p12["encrypted_contents"],
            "mac": p12["mac"]}
    if plain:
        info.update(type=plain[0]["type"], bits=plain[0]["bits"], encrypted=False)
        if plain[0].get("curve"):
            info["curve"] = plain[0]["curve"]
    elif shrouded:
        info.update(type=None, bits=None, encrypted=True, encryption=shrouded[0]["encryption"])
    elif p12["encrypted_contents"]:
        info.update(type=None, bits=None, encrypted=True, keys_visible=False)
        if "contents_encryption" in p12:
            info["encryption"] = p12["contents_encryption"]
    else:
        return None  # certificates only: no key in this file
    return info


def describe_der(data):
    """Try every known binary key structure; None when ``data`` is not a private key."""
    try:
        element = parse_der(data)
    except ASN1Error:
        return None
    if not element.is_universal(16) or not element.children:
        return None
    attempts = (("der-pkcs8", describe_pkcs8), ("der-encrypted-pkcs8", describe_encrypted_pkcs8),
                ("der-pkcs1", describe_pkcs1_rsa), ("der-sec1", describe_sec1_ec), ("der-dsa", describe_dsa))
    for name, describe in attempts:
        try:
            info = describe(element)
        except (ASN1Error, IndexError, AttributeError, TypeError):
            continue
        return dict(info, format=name)
    try:
        p12 = describe_pkcs12(element)
    except (ASN1Error, IndexError, AttributeError, TypeError):
        return None
    return summarise_pkcs12(p12)


# PEM ------------------------------------------------------------------------------------------

def _pem_headers(body):
    """Split RFC 1421 headers (Proc-Type, DEK-Info) from the base64 body."""
    headers = {}
    text = body.replace(b"\r", b"").strip(b"\n")
    if b":" in text.split(b"\n", 1)[0]:
        head, _, rest = text.partition(b"\n\n")
        for line in head.split(b"\n"):
            name, _, value = line.partition(b":")
            headers[name.strip().decode("ascii", "replace").lower()] = value.strip().decode("ascii", "replace")
        text = rest
    return headers, text


def _b64(text):
    try:
        return binascii.a2b_base64(re.sub(rb"\s+", b"", text))
    except (binascii.Error, ValueError):
        raise ASN1Error("body is not valid base64") from None


def describe_openssh(raw):
    magic = b"openssh-key-v1\x00"
    if not raw.startswith(magic):
        raise ASN1Error("not an openssh-key-v1 key")
    pos = len(magic)

    def take():
        nonlocal pos
        if pos + 4 > len(raw):
            raise ASN1Error("truncated OpenSSH key")
        (length,) = struct.unpack(">I", raw[pos:pos + 4])
        if pos + 4 + length > len(raw):
            raise ASN1Error("truncated OpenSSH key")
        value = raw[pos + 4:pos + 4 + length]
        pos += 4 + length
        return value

    cipher = take().decode("ascii", "replace")
    kdf = take().decode("ascii", "replace")
    take()  # kdf options
    if pos + 4 > len(raw):
        raise ASN1Error("truncated OpenSSH key")
    pos += 4  # number of keys
    public = take()
    info = {"encrypted": cipher != "none", "type": None, "bits": None}
    if info["encrypted"]:
        info["encryption"] = {"scheme": "openssh", "cipher": cipher, "kdf": kdf, "broken": False}
    inner, ipos = public, 0

    def field():
        nonlocal ipos
        (length,) = struct.unpack(">I", inner[ipos:ipos + 4])
        value = inner[ipos + 4:ipos + 4 + length]
        ipos += 4 + length
        return value

    try:
        key_type = field().decode("ascii", "replace")
        if key_type == "ssh-rsa":
            field()  # e
            modulus = field().lstrip(b"\x00")
            info.update(type="RSA", bits=(len(modulus) - 1) * 8 + modulus[0].bit_length())
        elif key_type.startswith("ecdsa-sha2-nistp"):
            size = int(key_type.rsplit("p", 1)[1])
            info.update(type="EC", curve="P-%d" % size, bits=size)
        elif key_type == "ssh-ed25519":
            info.update(type="Ed25519", bits=256)
        elif key_type == "ssh-dss":
            prime = field().lstrip(b"\x00")
            info.update(type="DSA", bits=(len(prime) - 1) * 8 + prime[0].bit_length())
        else:
            info["type"] = key_type
    except (struct.error, IndexError, ValueError):
        raise ASN1Error("malformed OpenSSH public key") from None
    return info


_LEGACY_TYPES = {"RSA PRIVATE KEY": "RSA", "EC PRIVATE KEY": "EC", "DSA PRIVATE KEY": "DSA"}


def describe_pem_block(label, body):
    """One PEM block with a private-key label -> description (raises ASN1Error when malformed)."""
    headers, text = _pem_headers(body)
    if label in _LEGACY_TYPES and "ENCRYPTED" in headers.get("proc-type", "").upper():
        cipher = headers.get("dek-info", "").split(",")[0].strip().upper() or None
        return {"format": "pem-legacy-encrypted", "type": _LEGACY_TYPES[label], "bits": None,
                "encrypted": True,
                "encryption": {"scheme": "openssl-legacy-pem", "cipher": cipher, "kdf": "EVP_BytesToKey-MD5",
                               "broken": cipher in ("DES-CBC", "RC2-40-CBC", "RC2-CBC", "RC4")}}
    raw = _b64(text)
    if not raw:
        raise ASN1Error("empty PEM body")
    if label == "OPENSSH PRIVATE KEY":
        return dict(describe_openssh(raw), format="openssh")
    element = parse_der(raw)
    if label == "PRIVATE KEY":
        return dict(describe_pkcs8(element), format="pem-pkcs8")
    if label == "ENCRYPTED PRIVATE KEY":
        return dict(describe_encrypted_pkcs8(element), format="pem-encrypted-pkcs8")
    if label == "RSA PRIVATE KEY":
        return dict(describe_pkcs1_rsa(element), format="pem-pkcs1")
    if label == "EC PRIVATE KEY":
        return dict(describe_sec1_ec(element), format="pem-sec1")
    if label == "DSA PRIVATE KEY":
        return dict(describe_dsa(element), format="pem-dsa")
    info = describe_der(raw)
    if info is None:
        raise ASN1Error("unrecognised key structure")
    return info


def describe_bytes(data):
    """Describe the private keys in a file's bytes.

    Returns (keys, problem): ``keys`` lists descriptions (empty when the file holds no private
    key); ``problem`` is a short text when the file claims to hold a key (a private-key PEM
    label) but it cannot be read, e.g. truncated or corrupted. Never raises on any input.
    """
    keys, problems = [], []
    if b"-----BEGIN " in data:
        for match in _PEM.finditer(data):
            label = match.group(1).decode("ascii")
            if not label.endswith("PRIVATE KEY") and label != "PGP PRIVATE KEY BLOCK":
                continue
            complete = match.group(3) is not None
            if label == "PGP PRIVATE KEY BLOCK":
                keys.append({"format": "openpgp", "type": "OpenPGP", "bits": None, "encrypted": None})
                continue
            try:
                if not complete:
                    raise ASN1Error("no END line (truncated file?)")
                keys.append(describe_pem_block(label, match.group(2)))
            except (ASN1Error, IndexError, AttributeError, TypeError, ValueError, struct.error) as exc:
                problems.append("%s block %d: %s" % (label, len(keys) + len(problems) + 1, exc))
                keys.append({"format": "pem", "label": label, "type": _LEGACY_TYPES.get(label),
                             "bits": None, "encrypted": None, "unreadable_reason": str(exc)})
        return keys, ("; ".join(problems) or None)
    if data[:1] == b"\x30":
        try:
            info = describe_der(data)
        except (ASN1Error, IndexError, AttributeError, TypeError, ValueError, RecursionError):
            info = None
        if info is not None:
            return [info], None
    return [], None


# PKCS#11 tokens ---------------------------------------------------------------------------------
# Only labels, ids, types, sizes, usage and access flags are kept from pkcs11-tool's output; the
# public values it prints (EC_POINT, modulus) are dropped on purpose.

KNOWN_PKCS11_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/*/softhsm/libsofthsm2.so",
    "/usr/lib64/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib/*/opensc-pkcs11.so",
    "/usr/lib/*/pkcs11/opensc-pkcs11.so",
    "/usr/lib64/opensc-pkcs11.so",
    "/usr/lib64/pkcs11/opensc-pkcs11.so",
)
P11KIT_MODULE_DIRS = ("/usr/share/p11-kit/modules", "/etc/pkcs11/modules")
P11KIT_LIB_DIRS = ("/usr/lib/*/pkcs11", "/usr/lib64/pkcs11", "/usr/lib/pkcs11")


def find_pkcs11_modules(explicit=None):
    """PKCS#11 modules on this host: the explicit list, else well-known paths and p11-kit's
    module registrations, one entry per real file."""
    import glob
    import os

    candidates = list(explicit or [])
    if not explicit:
        for pattern in KNOWN_PKCS11_MODULES:
            candidates.extend(sorted(glob.glob(pattern)))
        for folder in P11KIT_MODULE_DIRS:
            for conf in sorted(glob.glob(os.path.join(folder, "*.module"))):
                try:
                    with open(conf) as handle:
                        text = handle.read()
                except (IOError, OSError):
                    continue
                match = re.search(r"^\s*module\s*:\s*(\S+)", text, re.M)
                if not match:
                    continue
                path = match.group(1)
                if os.path.isabs(path):
                    candidates.append(path)
                else:
                    for libdir in P11KIT_LIB_DIRS:
                        candidates.extend(sorted(glob.glob(os.path.join(libdir, path))))
    seen, modules = set(), []
    for path in candidates:
        real = os.path.realpath(path)
        if real in seen or not os.path.isfile(real):
            continue
        seen.add(real)
        modules.append(path)
    return modules


def parse_module_info(text):
    """`pkcs11-tool -I` -> {cryptoki, manufacturer, library, library_version}."""
    info = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        value = value.strip()
        if key == "Cryptoki":
            info["cryptoki"] = value.replace("version", "").strip()
        elif key == "Manufacturer":
            info["manufacturer"] = value
        elif key == "Library":
            match = re.match(r"(.*?)\s*\(ver ([0-9.]+)\)\s*$", value)
            info["library"] = match.group(1) if match else value
            info["library_version"] = match.group(2) if match else None
    return info


def parse_slots(text):
    """`pkcs11-tool -L` -> [{slot, description, label, serial, model, manufacturer, flags, initialized}]."""
    slots, current = [], None
    for line in text.splitlines():
        match = re.match(r"^Slot \d+ \((0x[0-9a-fA-F]+)\):\s*(.*)$", line)
        if match:
            current = {"slot": match.group(1), "description": match.group(2).strip(), "label": None,
                       "serial": None, "model": None, "manufacturer": None, "flags": [], "initialized": False}
            slots.append(current)
            continue
        if current is None or ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "token label":
            current["label"] = value
        elif key == "token manufacturer":
            current["manufacturer"] = value
        elif key == "token model":
            current["model"] = value
        elif key == "serial num":
            current["serial"] = value
        elif key == "token flags":
            current["flags"] = [f.strip() for f in value.split(",") if f.strip() and "=" not in f]
            current["initialized"] = "token initialized" in current["flags"]
        elif key == "token state" and value == "uninitialized":
            current["initialized"] = False
    return slots


_OBJECT = re.compile(r"^(Private Key|Public Key|Secret Key|Certificate|Data|Profile) Object;?\s*(.*)$")


def parse_objects(text):
    """`pkcs11-tool -O` -> [{class, type, bits, curve, label, id, usage, access}] (no key values)."""
    objects, current = [], None
    for line in text.splitlines():
        match = _OBJECT.match(line)
        if match:
            detail = match.group(2).strip()
            words = detail.split()
            current = {"class": match.group(1).lower().replace(" ", "_"), "type": words[0] if words else None,
                       "bits": None, "curve": None, "label": None, "id": None, "usage": [], "access": []}
            bits = re.search(r"(\d+) bits", detail)
            if bits:
                current["bits"] = int(bits.group(1))
            objects.append(current)
            continue
        if current is None or ":" not in line:
            continue
        key, _, value = line.strip().partition(":")
        key, value = key.strip(), value.strip()
        if key == "label":
            current["label"] = value
        elif key == "ID":
            current["id"] = value
        elif key == "Usage":
            current["usage"] = [u.strip() for u in value.split(",") if u.strip()]
        elif key == "Access":
            current["access"] = [a.strip() for a in value.split(",") if a.strip()]
        elif key == "EC_PARAMS":
            try:
                curve = curve_of(oid(parse_der(binascii.unhexlify(value.split()[0]))))
                current["curve"], current["bits"] = curve["curve"], curve["bits"] or current["bits"]
            except (ASN1Error, binascii.Error, ValueError, IndexError):
                pass
    return objects


def merge_key_objects(objects):
    """Private keys of a token, with size and curve taken from the public half (same id) when the
    private object does not say; public keys alone (private objects hidden without a PIN) too."""
    publics = {(o["id"], o["label"]): o for o in objects if o["class"] == "public_key"}
    keys = []
    for obj in objects:
        if obj["class"] != "private_key":
            continue
        twin = publics.get((obj["id"], obj["label"])) or next(
            (p for p in publics.values() if p["id"] and p["id"] == obj["id"]), None)
        key = dict(obj)
        if twin:
            key["bits"] = key["bits"] or twin["bits"]
            key["curve"] = key["curve"] or twin["curve"]
        keys.append(key)
    return keys


def pkcs11_uri(token, label=None, key_id=None, kind="private"):
    """RFC 7512 URI naming a token object (percent-encoding the few characters that need it)."""
    def enc(text):
        return "".join(c if c.isalnum() or c in "-._~" else "%%%02X" % ord(c) for c in text)
    parts = ["token=%s" % enc(token or "")]
    if label:
        parts.append("object=%s" % enc(label))
    if key_id:
        parts.append("id=%s" % "".join("%%%s" % key_id[i:i + 2] for i in range(0, len(key_id), 2)))
    parts.append("type=%s" % kind)
    return "pkcs11:" + ";".join(parts)


def parse_pkcs11_uri(uri):
    """pkcs11:token=x;object=y;id=%01 -> {token, object, id (hex)} (path attributes only)."""
    from urllib.parse import unquote_to_bytes

    body = uri.split(":", 1)[1] if ":" in uri else uri
    body = body.split("?", 1)[0]
    attrs = {}
    for part in body.split(";"):
        name, _, value = part.partition("=")
        if not name:
            continue
        raw = unquote_to_bytes(value)
        if name == "id":
            attrs["id"] = binascii.hexlify(raw).decode("ascii")
        else:
            attrs[name] = raw.decode("utf-8", "replace")
    return attrs
