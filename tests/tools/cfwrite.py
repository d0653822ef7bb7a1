#!/usr/bin/env python3
"""cfwrite.py - an independent WRITER of the cinefilter frame format,
written from docs/frame-format.md alone (Python standard library only).

Reads a JSON description on stdin and writes the stream on stdout:

  [{"name": "ratings",
    "columns": [["user", "str"], ["rating", "f32"], ["f", "f32", 3]],
    "attrs": [["rating_min", "0.5"]],          # in this order
    "rows": [["1", 4.0, [1, 2, 3]], ...],
    "block_rows": 65536}]                       # optional

The end-to-end tests use it to check that the C reader accepts what the
spec describes, and that the C writers produce exactly these bytes.
"""
import json
import struct
import sys
import zlib

TYPES = {"u8": (1, "<B", 1), "i32": (2, "<i", 4), "u32": (3, "<I", 4),
         "i64": (4, "<q", 8), "u64": (5, "<Q", 8), "f32": (6, "<f", 4),
         "f64": (7, "<d", 8), "str": (8, None, 0)}
MAGIC = b"\x89CFR\r\n\x1a\n"


def pad(b, n):
    return b + b"\0" * (-len(b) % n)


def header(t):
    name = t["name"].encode()
    body = b""
    for c in t["columns"]:
        cname = c[0].encode()
        width = c[2] if len(c) > 2 else 1
        body += struct.pack("<BBHI", TYPES[c[1]][0], 0, len(cname), width)
        body += pad(cname, 8)
    for k, v in t.get("attrs", []):
        k, v = k.encode(), v.encode()
        body += struct.pack("<HHI", len(k), 0, len(v)) + pad(k + v, 8)
    fixed_len = 32 + len(pad(name, 8)) + len(body) + 8
    total = fixed_len + (-fixed_len % 64)
    h = MAGIC + struct.pack("<HHIIIH6x", 1, 0, total, len(t["columns"]),
                            len(t.get("attrs", [])), len(name))
    h += pad(name, 8) + body
    h += b"\0" * (total - 8 - len(h))
    return h + struct.pack("<II", zlib.crc32(h), 0)


def chunk(col, rows, j):
    typ = col[1]
    width = col[2] if len(col) > 2 else 1
    if typ == "str":
        data = [r[j].encode() if isinstance(r[j], str) else bytes(r[j]) for r in rows]
        offs, o = [0], 0
        for d in data:
            o += len(d)
            offs.append(o)
        return pad(struct.pack("<%dI" % len(offs), *offs) + b"".join(data), 64)
    fmt = TYPES[typ][1]
    out = b""
    for r in rows:
        vals = r[j] if width > 1 else [r[j]]
        for v in vals:
            out += struct.pack(fmt, v)
    return pad(out, 64)


def block(nrows, payload, index, total):
    h = b"CFBK" + struct.pack("<IQQQI20x", nrows, len(payload), index, total,
                              zlib.crc32(payload) if nrows else 0)
    return h + struct.pack("<II", zlib.crc32(h), 0)


def table(t):
    out = header(t)
    rows = t.get("rows", [])
    per = t.get("block_rows", 65536)
    index = total = 0
    for a in range(0, len(rows), per):
        part = rows[a:a + per]
        payload = b"".join(chunk(c, part, j) for j, c in enumerate(t["columns"]))
        total += len(part)
        out += block(len(part), payload, index, total) + payload
        index += 1
    return out + block(0, b"", index, total)


def main():
    tables = json.load(sys.stdin)
    sys.stdout.buffer.write(b"".join(table(t) for t in tables))


if __name__ == "__main__":
    main()
