"""What a server's CertificateRequest asks of a client: signature schemes and CA names.

C.11 asks for 高セキュリティ型 settings on server and client alike, so the client side of client
authentication matters too: a server that lets clients sign with SHA-1 accepts what the CRYPTREC
guideline prohibits. The message is plaintext in TLS <= 1.2 and encrypted in TLS 1.3; session.py
sees it decrypted through OpenSSL's message callback and hands the body here.

    parse(body, tls13) -> {"signature_algorithms": [...], "weak_signature_algorithms": [...],
                           "ca_names": ["CN=Hospital Client CA, O=..."], "error": None}
"""

from tlslite.constants import SignatureScheme

# RFC 5246 HashAlgorithm codes in the high byte of legacy (hash, signature) pairs.
LEGACY_HASHES = {1: "md5", 2: "sha1", 3: "sha224", 4: "sha256", 5: "sha384", 6: "sha512"}
LEGACY_SIGNATURES = {1: "rsa_pkcs1", 2: "dsa", 3: "ecdsa"}
WEAK_HASHES = ("md5", "sha1")  # prohibited for signatures by CRYPTREC 3.0.1 (SHA-1) and long before (MD5)
SIGNATURE_ALGORITHMS = 13      # extension types (RFC 8446 4.2)
CERTIFICATE_AUTHORITIES = 47
# X.520 attribute types people recognise in a CA's name
ATTRIBUTE_NAMES = {"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
                   "2.5.4.11": "OU", "1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.25": "DC"}


class _Reader:
    def __init__(self, data):
        self.data, self.pos = bytes(data), 0

    def take(self, length):
        if self.pos + length > len(self.data):
            raise ValueError("truncated CertificateRequest")
        chunk = self.data[self.pos:self.pos + length]
        self.pos += length
        return chunk

    def number(self, size):
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size):
        return self.take(self.number(length_size))

    def done(self):
        return self.pos >= len(self.data)


def scheme_name(code):
    """IANA SignatureScheme name, or hash+signature for legacy TLS 1.2 pairs, or the hex code."""
    name = SignatureScheme.toRepr(code)
    if name:
        return name
    hash_name, sign_name = LEGACY_HASHES.get(code >> 8), LEGACY_SIGNATURES.get(code & 0xFF)
    if hash_name and sign_name:
        return "%s_%s" % (sign_name, hash_name)
    return "0x%04x" % code


def scheme_hash(code):
    """The hash a scheme signs with (sha1, sha256, ...), or the scheme's own name for EdDSA."""
    if code >> 8 in LEGACY_HASHES and code >> 8 != 8:
        return LEGACY_HASHES[code >> 8]
    name = scheme_name(code)
    for hash_name in ("sha256", "sha384", "sha512"):
        if name.endswith(hash_name):
            return hash_name
    return name


def _schemes(raw):
    reader = _Reader(raw)
    return [reader.number(2) for _ in range(len(raw) // 2)]


# ----------------------------------------------------------------------------- DER names

def _der(reader):
    tag = reader.number(1)
    length = reader.number(1)
    if length & 0x80:
        length = reader.number(length & 0x7F)
    return tag, reader.take(length)


def _oid(raw):
    first = raw[0]
    parts, value = [first // 40, first % 40], 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def dn_text(der):
    """'CN=Hospital Client CA, O=Hospital' from a DER Name; CN first, most specific first."""
    outer = _Reader(der)
    tag, body = _der(outer)
    if tag != 0x30:
        raise ValueError("not a DER Name")
    parts, rdns = [], _Reader(body)
    while not rdns.done():
        _, rdn = _der(rdns)
        items = _Reader(rdn)
        while not items.done():
            _, attribute = _der(items)
            fields = _Reader(attribute)
            _, oid = _der(fields)
            _, value = _der(fields)
            dotted = _oid(oid)
            parts.append("%s=%s" % (ATTRIBUTE_NAMES.get(dotted, dotted), value.decode("utf-8", "replace")))
    parts.reverse()
    cn = [p for p in parts if p.startswith("CN=")]
    return ", ".join(cn + [p for p in parts if not p.startswith("CN=")])


def _names(raw):
    reader, names = _Reader(raw), []
    while not reader.done():
        der = reader.vector(2)
        try:
            names.append(dn_text(der))
        except (ValueError, IndexError):
            names.append("(unreadable name, %d bytes)" % len(der))
    return names


# ----------------------------------------------------------------------------- the message

def parse(body, tls13):
    """The CertificateRequest body (without the 4-byte handshake header)."""
    result = {"signature_algorithms": [], "weak_signature_algorithms": [], "ca_names": [], "error": None}
    try:
        reader = _Reader(body)
        schemes, names = [], []
        if tls13:
            reader.vector(1)  # certificate_request_context
            extensions = _Reader(reader.vector(2))
            while not extensions.done():
                kind, data = extensions.number(2), extensions.vector(2)
                if kind == SIGNATURE_ALGORITHMS:
                    schemes = _schemes(_Reader(data).vector(2))
                elif kind == CERTIFICATE_AUTHORITIES:
                    names = _names(_Reader(data).vector(2))
        else:
            reader.vector(1)  # certificate_types
            schemes = _schemes(reader.vector(2))
            names = _names(reader.vector(2))
    except (ValueError, IndexError) as exc:
        result["error"] = "cannot read the server's CertificateRequest: %s" % exc
        return result
    result["signature_algorithms"] = [scheme_name(c) for c in schemes]
    result["weak_signature_algorithms"] = [scheme_name(c) for c in schemes if scheme_hash(c) in WEAK_HASHES]
    result["ca_names"] = names
    return result
