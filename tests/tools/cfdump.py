#!/usr/bin/env python3
"""cfdump.py - an independent reader of the cinefilter frame format.

Written from docs/frame-format.md alone (not from src/lib/frame.c), so that
end-to-end tests can check a program's output without trusting the C
library that wrote it.  Python 3 standard library only.

usage: cfdump.py [--json | --summary] [FILE]      (FILE defaults to stdin)

It verifies everything the spec says a reader checks: table magic, version,
header_len bounds, header CRC, column types and widths, attribute layout,
block magic, block header CRC, the index/total sequence, payload CRC, the
column layout inside each payload (chunk lengths, 64-byte padding, string
offsets), the end-marker counts, 64-byte alignment and truncation.  It also
checks, as a conformance check on writers, that every reserved field and
every padding byte is zero ("writers must write zeros").

Output (default): for each table
    table NAME rows=N cols=name:type[width],...      ([width] only if > 1)
    attrs key=value key=value ...                    (in header order)
then one CSV line per row.  Integers are decimal; f64 as Python repr; f32 as
the shortest decimal that round-trips through binary32 (printed as a Python
float repr); NaN/inf as nan/inf/-inf; strings as is (invalid UTF-8 bytes are
passed through unchanged).  A vector column (width k > 1) is one CSV field
holding its k values separated by single spaces.  An attribute value is
printed bare unless it is empty or contains whitespace, '=', '"', '\\' or
control characters, in which case it is printed as a JSON string.

--summary prints only the table lines.
--json prints a JSON array of
    {"name", "columns": [{"name","type","width"}], "attrs": {}, "rows": [[..]]}
with a vector cell as a JSON list (NaN/Infinity as Python's json writes them).

On any error: "cfdump.py: BYTE_OFFSET: reason" on stderr, exit status 1.
"""

import array
import csv
import io
import json
import math
import struct
import sys
import zlib

PROG = "cfdump.py"
TABLE_MAGIC = b"\x89CFR\r\n\x1a\n"
BLOCK_MAGIC = b"CFBK"
VERSION = 1
MAX_HEADER = 16 * 1024 * 1024
MAX_COLS = 4096
MAX_WIDTH = 1 << 24

# code -> (name, size, array typecode or None for str)
TYPES = {
    1: ("u8", 1, "B"),
    2: ("i32", 4, "i"),
    3: ("u32", 4, "I"),
    4: ("i64", 8, "q"),
    5: ("u64", 8, "Q"),
    6: ("f32", 4, "f"),
    7: ("f64", 8, "d"),
    8: ("str", None, None),
}


class FrameError(Exception):
    def __init__(self, offset, reason):
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


def pad8(n):
    return (n + 7) & ~7


def pad64(n):
    return (n + 63) & ~63


def typed_array(code, raw):
    """Decode little-endian raw bytes into an array of the given typecode."""
    a = array.array(code)
    if a.itemsize != struct.calcsize("<" + code):
        # platform int sizes differ from the standard ones: fall back
        n = struct.calcsize("<" + code)
        return list(struct.unpack("<%d%s" % (len(raw) // n, code), raw))
    a.frombytes(raw)
    if sys.byteorder != "little":
        a.byteswap()
    return a


def check_zero(data, start, end, what):
    """Padding / reserved bytes must be zero (writers must write zeros)."""
    if start < end:
        seg = bytes(data[start:end])
        if seg.count(0) != len(seg):
            for i, b in enumerate(seg):
                if b:
                    raise FrameError(start + i, "non-zero byte 0x%02x in %s" % (b, what))


def looks_like_text(data):
    head = bytes(data[:512])
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        # a multi-byte char cut at the 512-byte mark is still text
        if e.start < len(head) - 4:
            return False
    return all(b >= 0x20 or b in b"\t\r\n" for b in head)


class Reader:
    def __init__(self, data, want_rows=True):
        self.data = data
        self.n = len(data)
        self.want_rows = want_rows

    def need(self, pos, length, what):
        if pos + length > self.n:
            raise FrameError(
                pos,
                "truncated %s: needs %d bytes, stream ends after %d"
                % (what, length, self.n - pos),
            )

    def u16(self, p):
        return struct.unpack_from("<H", self.data, p)[0]

    def u32(self, p):
        return struct.unpack_from("<I", self.data, p)[0]

    def u64(self, p):
        return struct.unpack_from("<Q", self.data, p)[0]

    def tables(self):
        pos = 0
        while pos < self.n:
            table, pos = self.read_table(pos)
            yield table

    # ---- table header ---------------------------------------------------
    def read_header(self, pos):
        d = self.data
        if pos % 64:
            raise FrameError(pos, "table header not 64-byte aligned")
        avail = d[pos:pos + 8]
        if bytes(avail) != TABLE_MAGIC[:len(avail)] or len(avail) < 8:
            if bytes(avail) == TABLE_MAGIC[:len(avail)]:
                self.need(pos, 64, "table header")
            if pos == 0:
                if looks_like_text(d):
                    raise FrameError(
                        0,
                        "not a frame stream (it looks like text: "
                        "convert it with csv2bin first)",
                    )
                raise FrameError(0, "not a frame stream (bad table magic)")
            raise FrameError(pos, "bad table magic (expected a table header after the end marker)")
        self.need(pos, 64, "table header")
        version = self.u16(pos + 8)
        if version != VERSION:
            raise FrameError(
                pos + 8,
                "unsupported format version %d (this reader knows version %d)"
                % (version, VERSION),
            )
        hl = self.u32(pos + 12)
        if hl < 64 or hl % 64 or hl > MAX_HEADER:
            raise FrameError(
                pos + 12,
                "bad header_len %d (must be a multiple of 64 in [64, 16 MiB])" % hl,
            )
        self.need(pos, hl, "table header")
        stored = self.u32(pos + hl - 8)
        crc = zlib.crc32(d[pos:pos + hl - 8]) & 0xFFFFFFFF
        if crc != stored:
            raise FrameError(
                pos + hl - 8,
                "table header CRC mismatch (stored %08x, computed %08x)" % (stored, crc),
            )
        check_zero(d, pos + hl - 4, pos + hl, "table header trailer (reserved)")
        # flags at pos+10: reserved, readers reject nothing on it in v1
        ncols = self.u32(pos + 16)
        nattrs = self.u32(pos + 20)
        name_len = self.u16(pos + 24)
        check_zero(d, pos + 26, pos + 32, "table header reserved bytes")
        if ncols > MAX_COLS:
            raise FrameError(pos + 16, "too many columns: %d (at most %d)" % (ncols, MAX_COLS))
        end = pos + hl - 8  # descriptors and attributes must end by here

        def room(p, length, what):
            if p + length > end:
                raise FrameError(p, "%s overruns the table header (header_len %d)" % (what, hl))

        p = pos + 32
        room(p, pad8(name_len), "table name")
        name = bytes(d[p:p + name_len])
        check_zero(d, p + name_len, p + pad8(name_len), "table name padding")
        p += pad8(name_len)

        cols = []
        for i in range(ncols):
            room(p, 8, "column descriptor %d" % i)
            code = d[p]
            if code not in TYPES:
                raise FrameError(p, "column %d: invalid type code %d" % (i, code))
            check_zero(d, p + 1, p + 2, "column descriptor reserved byte")
            clen = self.u16(p + 2)
            width = self.u32(p + 4)
            tname = TYPES[code][0]
            if width < 1 or width > MAX_WIDTH:
                raise FrameError(p + 4, "column %d: bad width %d (must be 1 to 2^24)" % (i, width))
            if tname == "str" and width != 1:
                raise FrameError(p + 4, "column %d: str column with width %d (must be 1)" % (i, width))
            room(p + 8, pad8(clen), "column %d name" % i)
            cname = bytes(d[p + 8:p + 8 + clen])
            check_zero(d, p + 8 + clen, p + 8 + pad8(clen), "column name padding")
            cols.append((cname, code, width))
            p += 8 + pad8(clen)

        attrs = []
        seen = set()
        for i in range(nattrs):
            room(p, 8, "attribute %d" % i)
            klen = self.u16(p)
            check_zero(d, p + 2, p + 4, "attribute reserved bytes")
            vlen = self.u32(p + 4)
            room(p + 8, pad8(klen + vlen), "attribute %d" % i)
            key = bytes(d[p + 8:p + 8 + klen])
            val = bytes(d[p + 8 + klen:p + 8 + klen + vlen])
            check_zero(d, p + 8 + klen + vlen, p + 8 + pad8(klen + vlen), "attribute padding")
            if key in seen:
                raise FrameError(p, "duplicate attribute key %r" % key.decode("utf-8", "replace"))
            seen.add(key)
            attrs.append((key, val))
            p += 8 + pad8(klen + vlen)
        check_zero(d, p, end, "table header padding")
        return name, cols, attrs, pos + hl

    # ---- blocks ---------------------------------------------------------
    def read_table(self, pos):
        name, cols, attrs, pos = self.read_header(pos)
        d = self.data
        nblocks = 0
        nrows_total = 0
        columns = [[] for _ in cols]  # per column: list of per-block value lists
        while True:
            if pos % 64:
                raise FrameError(pos, "block not 64-byte aligned")
            if pos >= self.n:
                raise FrameError(pos, "truncated: stream ends inside table %r (no end marker)" % name.decode("utf-8", "replace"))
            self.need(pos, 64, "block header")
            if bytes(d[pos:pos + 4]) != BLOCK_MAGIC:
                raise FrameError(pos, "bad block magic %r" % bytes(d[pos:pos + 4]))
            stored = self.u32(pos + 56)
            crc = zlib.crc32(d[pos:pos + 56]) & 0xFFFFFFFF
            if crc != stored:
                raise FrameError(
                    pos + 56,
                    "block header CRC mismatch (stored %08x, computed %08x)" % (stored, crc),
                )
            check_zero(d, pos + 36, pos + 56, "block header reserved bytes")
            check_zero(d, pos + 60, pos + 64, "block header trailer (reserved)")
            nrows = self.u32(pos + 4)
            plen = self.u64(pos + 8)
            index = self.u64(pos + 16)
            total = self.u64(pos + 24)
            pcrc = self.u32(pos + 32)
            if nrows == 0:  # end marker
                if plen != 0:
                    raise FrameError(pos + 8, "end marker with payload_len %d (must be 0)" % plen)
                if pcrc != 0:
                    raise FrameError(pos + 32, "end marker with payload CRC %08x (must be 0)" % pcrc)
                if index != nblocks:
                    raise FrameError(
                        pos + 16,
                        "end marker says %d blocks, read %d (lost or extra block)" % (index, nblocks),
                    )
                if total != nrows_total:
                    raise FrameError(
                        pos + 24,
                        "end marker says %d rows, read %d" % (total, nrows_total),
                    )
                pos += 64
                break
            if index != nblocks:
                raise FrameError(
                    pos + 16,
                    "block sequence error: index %d, expected %d (lost, repeated or reordered block)"
                    % (index, nblocks),
                )
            if total != nrows_total + nrows:
                raise FrameError(
                    pos + 24,
                    "block sequence error: total %d, expected %d" % (total, nrows_total + nrows),
                )
            if plen % 64:
                raise FrameError(pos + 8, "payload_len %d not a multiple of 64" % plen)
            self.need(pos + 64, plen, "block payload")
            p0 = pos + 64
            payload = d[p0:p0 + plen]
            crc = zlib.crc32(payload) & 0xFFFFFFFF
            if crc != pcrc:
                raise FrameError(
                    pos + 32,
                    "block payload CRC mismatch (stored %08x, computed %08x)" % (pcrc, crc),
                )
            self.read_payload(p0, plen, nrows, cols, columns)
            nblocks += 1
            nrows_total += nrows
            pos = p0 + plen
        return {
            "name": name,
            "cols": cols,
            "attrs": attrs,
            "nrows": nrows_total,
            "data": columns,
        }, pos

    def read_payload(self, p0, plen, nrows, cols, columns):
        d = self.data
        off = 0  # relative to payload start
        for ci, (cname, code, width) in enumerate(cols):
            tname, size, tc = TYPES[code]
            cp = p0 + off
            if cp % 64:
                raise FrameError(cp, "column chunk not 64-byte aligned")
            if tname == "str":
                olen = 4 * (nrows + 1)
                if off + olen > plen:
                    raise FrameError(cp, "column %d: string offsets overrun the payload" % ci)
                offs = typed_array("I", d[cp:cp + olen])
                if offs[0] != 0:
                    raise FrameError(cp, "column %d: first string offset is %d, not 0" % (ci, offs[0]))
                for i in range(nrows):
                    if offs[i + 1] < offs[i]:
                        raise FrameError(cp + 4 * (i + 1), "column %d: string offsets decrease" % ci)
                blen = offs[nrows]
                clen = olen + blen
                if off + pad64(clen) > plen:
                    raise FrameError(cp, "column %d: string chunk (%d bytes) overruns the payload" % (ci, clen))
                if self.want_rows:
                    sb = cp + olen
                    raw = bytes(d[sb:sb + blen])
                    columns[ci].append([raw[offs[i]:offs[i + 1]] for i in range(nrows)])
            else:
                clen = nrows * width * size
                if off + pad64(clen) > plen:
                    raise FrameError(cp, "column %d: chunk (%d bytes) overruns the payload" % (ci, clen))
                if self.want_rows:
                    raw = d[cp:cp + clen]
                    vals = typed_array(tc, raw)
                    if tname == "f32":
                        vals = [(v, bytes(raw[4 * i:4 * i + 4])) for i, v in enumerate(vals)]
                    if width > 1:
                        vals = [vals[i * width:(i + 1) * width] for i in range(nrows)]
                    columns[ci].append(vals)
            check_zero(d, cp + clen, cp + pad64(clen), "column %d chunk padding" % ci)
            off += pad64(clen)
        if off != plen:
            raise FrameError(
                p0 + off,
                "payload_len %d does not match the column layout (%d bytes)" % (plen, off),
            )


# ---- formatting -----------------------------------------------------------
def fmt_f64(v):
    if math.isnan(v):
        return "nan"
    return repr(v)


def fmt_f32(pair):
    v, raw = pair
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return repr(v)
    for prec in range(1, 10):  # 9 significant digits always round-trip
        s = "%.*g" % (prec, v)
        try:
            if struct.pack("<f", float(s)) == raw:
                return repr(float(s))
        except OverflowError:  # e.g. FLT_MAX rounded up past the f32 range
            continue
    return repr(v)


def f32_value(pair):
    """The float for JSON: the shortest-round-trip value, as a Python float."""
    s = fmt_f32(pair)
    return float(s)


def cell_text(tname, v):
    if tname == "str":
        return v.decode("utf-8", "surrogateescape")
    if tname == "f32":
        return fmt_f32(v)
    if tname == "f64":
        return fmt_f64(v)
    return str(v)


def cell_json(tname, v):
    if tname == "str":
        return v.decode("utf-8", "surrogateescape")
    if tname == "f32":
        return f32_value(v)
    return v


def col_spec(cname, code, width):
    s = "%s:%s" % (cname.decode("utf-8", "surrogateescape"), TYPES[code][0])
    if width > 1:
        s += "[%d]" % width
    return s


def attr_value_text(v):
    s = v.decode("utf-8", "surrogateescape")
    if s == "" or any(c.isspace() or c in '="\\' or ord(c) < 0x20 or c == "\x7f" for c in s):
        return json.dumps(s)
    return s


def iter_rows(t):
    """Yield each row as a list of per-column cells (a vector cell is a list)."""
    if not t["cols"]:  # a table of rows without columns
        for _ in range(t["nrows"]):
            yield []
        return
    for bi in range(len(t["data"][0]) if t["data"] else 0):
        blocks = [col[bi] for col in t["data"]]
        for ri in range(len(blocks[0])):
            yield [b[ri] for b in blocks]


def emit_text(tables, out, summary):
    w = csv.writer(out, lineterminator="\n")
    for t in tables:
        out.write(
            "table %s rows=%d cols=%s\n"
            % (
                t["name"].decode("utf-8", "surrogateescape"),
                t["nrows"],
                ",".join(col_spec(*c) for c in t["cols"]),
            )
        )
        if summary:
            continue
        out.write(
            "attrs%s\n"
            % "".join(
                " %s=%s" % (k.decode("utf-8", "surrogateescape"), attr_value_text(v))
                for k, v in t["attrs"]
            )
        )
        kinds = [(TYPES[code][0], width) for _, code, width in t["cols"]]
        for row in iter_rows(t):
            fields = []
            for (tname, width), v in zip(kinds, row):
                if width > 1:
                    fields.append(" ".join(cell_text(tname, x) for x in v))
                else:
                    fields.append(cell_text(tname, v))
            w.writerow(fields)


def emit_json(tables, out):
    res = []
    for t in tables:
        kinds = [(TYPES[code][0], width) for _, code, width in t["cols"]]
        rows = []
        for row in iter_rows(t):
            r = []
            for (tname, width), v in zip(kinds, row):
                if width > 1:
                    r.append([cell_json(tname, x) for x in v])
                else:
                    r.append(cell_json(tname, v))
            rows.append(r)
        res.append(
            {
                "name": t["name"].decode("utf-8", "surrogateescape"),
                "columns": [
                    {"name": c.decode("utf-8", "surrogateescape"), "type": TYPES[code][0], "width": w}
                    for c, code, w in t["cols"]
                ],
                "attrs": {
                    k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
                    for k, v in t["attrs"]
                },
                "rows": rows,
            }
        )
    json.dump(res, out)
    out.write("\n")


def main(argv):
    mode = "text"
    path = None
    for a in argv[1:]:
        if a == "--json":
            mode = "json"
        elif a == "--summary":
            mode = "summary"
        elif a in ("-h", "--help"):
            sys.stdout.write(__doc__)
            return 0
        elif a.startswith("-") and a != "-":
            sys.stderr.write("%s: unknown option %s\nusage: %s [--json | --summary] [FILE]\n" % (PROG, a, PROG))
            return 2
        elif path is None:
            path = a
        else:
            sys.stderr.write("usage: %s [--json | --summary] [FILE]\n" % PROG)
            return 2
    try:
        if path is None or path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        sys.stderr.write("%s: %s: %s\n" % (PROG, path or "stdin", e.strerror))
        return 1
    data = memoryview(data)
    reader = Reader(data, want_rows=(mode != "summary"))
    try:
        tables = list(reader.tables())  # verify the whole stream before printing
    except FrameError as e:
        sys.stderr.write("%s: %d: %s\n" % (PROG, e.offset, e.reason))
        return 1
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", errors="surrogateescape", newline="")
    try:
        if mode == "json":
            emit_json(tables, out)
        else:
            emit_text(tables, out, mode == "summary")
        out.flush()
    except BrokenPipeError:
        return 1
    finally:
        out.detach()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
