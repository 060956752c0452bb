"""What two PNGs share when they show the same picture: their compressed pixels (IDAT chunks),
whatever Content Credentials (a chunk of their own, signed anew for every output) they carry."""

import struct


def pixels(data: bytes) -> bytes:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, out = 8, b""
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at : at + 4]), data[at + 4 : at + 8]
        if kind == b"IDAT":
            out += data[at + 8 : at + 8 + length]
        at += 12 + length
    return out
