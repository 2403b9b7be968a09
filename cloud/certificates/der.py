"""A minimal DER reader for one job: the extended-key-usage OIDs of a signer certificate.

cryptography refuses a certificate's extensions as a whole when any of them breaks strict DER; real
document signer certificates do (Finland's test DSCs encode the default `CA:FALSE`; an empty key-usage
list appears too). The verifier still has to know which kinds of certificate such a DSC may sign, so it
falls back to reading just that extension here. Any structure this reader does not understand raises
ValueError, and the caller then trusts the key for nothing.
"""

from __future__ import annotations

_SEQUENCE = 0x30
_OID = 0x06
_BOOLEAN = 0x01
_OCTET_STRING = 0x04
_EXTENSIONS = 0xA3  # [3] EXPLICIT in TBSCertificate
_EXTENDED_KEY_USAGE = "2.5.29.37"
_MAX_LENGTH_BYTES = 4


def _read(data: bytes, offset: int, end: int) -> tuple[int, int, int]:
    """Read one TLV at `offset` within `data[:end]`: its tag and the bounds of its value."""
    if offset + 2 > end:
        raise ValueError("truncated DER")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte DER tags are not used in certificates")
    first = data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > _MAX_LENGTH_BYTES or offset + count > end:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > end:
        raise ValueError("DER value runs past its container")
    return tag, offset, offset + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    children = []
    while start < end:
        child = _read(data, start, end)
        children.append(child)
        start = child[2]
    return children


def _oid(value: bytes) -> str:
    if not value or value[-1] & 0x80:
        raise ValueError("bad OID encoding")
    arcs: list[int] = []
    current = 0
    for byte in value:
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def extended_key_usage(tbs_certificate: bytes) -> frozenset[str] | None:
    """The extended-key-usage OIDs in a DER TBSCertificate, or None when it has no such extension."""
    tag, tbs_start, tbs_end = _read(tbs_certificate, 0, len(tbs_certificate))
    if tag != _SEQUENCE or tbs_end != len(tbs_certificate):
        raise ValueError("TBSCertificate is not one SEQUENCE")
    for field_tag, field_start, field_end in _children(tbs_certificate, tbs_start, tbs_end):
        if field_tag != _EXTENSIONS:
            continue
        wrapped = _children(tbs_certificate, field_start, field_end)
        if len(wrapped) != 1 or wrapped[0][0] != _SEQUENCE:
            raise ValueError("extensions are not one SEQUENCE")
        _, start, end = wrapped[0]
        for tag, ext_start, ext_end in _children(tbs_certificate, start, end):
            if tag != _SEQUENCE:
                raise ValueError("an extension is not a SEQUENCE")
            fields = _children(tbs_certificate, ext_start, ext_end)
            if not fields or fields[0][0] != _OID:
                raise ValueError("an extension does not start with its OID")
            if _oid(tbs_certificate[fields[0][1] : fields[0][2]]) != _EXTENDED_KEY_USAGE:
                continue
            if [field[0] for field in fields[1:]] not in ([_OCTET_STRING], [_BOOLEAN, _OCTET_STRING]):
                raise ValueError("malformed extendedKeyUsage extension")
            _, value_start, value_end = fields[-1]
            seq_tag, seq_start, seq_end = _read(tbs_certificate, value_start, value_end)
            if seq_tag != _SEQUENCE or seq_end != value_end:
                raise ValueError("extendedKeyUsage is not one SEQUENCE")
            oids = _children(tbs_certificate, seq_start, seq_end)
            if any(oid_tag != _OID for oid_tag, _, _ in oids):
                raise ValueError("extendedKeyUsage holds something other than OIDs")
            return frozenset(_oid(tbs_certificate[s:e]) for _, s, e in oids)
    return None
