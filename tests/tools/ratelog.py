#!/usr/bin/env python3
"""ratelog.py LOG - an independent reader of serve's ratings log
(src/serve/ratelog.h: "CFRLOG1\\n", then records u32 len | u32 crc32 |
payload).  Prints one JSON object a record: {"offset", "ts", "user",
"entries": [[kind, item, rating], ...]} with kind rate, unrate, hide,
unhide; then a last line {"end": offset of the last whole record,
"size": the file's size}.  Exits 1 on a bad magic or a payload that does
not parse.  Standard library only."""
import json
import struct
import sys
import zlib

KINDS = {1: "rate", 2: "unrate", 3: "hide", 4: "unhide"}


def main(path):
    data = open(path, "rb").read()
    if data[:8] != b"CFRLOG1\n":
        sys.exit("%s: bad magic" % path)
    off = 8
    while off + 8 <= len(data):
        n, crc = struct.unpack_from("<II", data, off)
        p = data[off + 8:off + 8 + n]
        if len(p) < n or zlib.crc32(p) != crc:
            break
        ts, ulen = struct.unpack_from("<qH", p, 0)
        at = 10
        user = p[at:at + ulen].decode()
        at += ulen
        (cnt,) = struct.unpack_from("<I", p, at)
        at += 4
        ents = []
        for _ in range(cnt):
            kind, ilen = struct.unpack_from("<BH", p, at)
            at += 3
            item = p[at:at + ilen].decode()
            at += ilen
            (r,) = struct.unpack_from("<f", p, at)
            at += 4
            ents.append([KINDS[kind], item, r])
        if at != n:
            sys.exit("%s: record at %d: %d bytes left over" % (path, off, n - at))
        print(json.dumps({"offset": off, "ts": ts, "user": user, "entries": ents}))
        off += 8 + n
    print(json.dumps({"end": off, "size": len(data)}))


if __name__ == "__main__":
    main(sys.argv[1])
