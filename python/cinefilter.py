"""cinefilter - read cinefilter frame streams into NumPy arrays.

The supported Python reader of the format every cinefilter program writes
(docs/frame-format.md).  One file, NumPy only; `make install` puts it where
the system's python3 finds it.

    import cinefilter
    tables = cinefilter.read("ratings.bin")     # every table of a stream
    r = cinefilter.read_table("ratings.bin", "ratings")
    r["rating"]          # numeric column: 1-D array (f32 -> float32, ...)
    r.attrs              # {"rating_min": "0.5", ...}
    m = cinefilter.read_model("model.bin")
    m.item_factors       # (n_items, k) float32, row i is item m.items[i]
    m.item_index["260"]  # the row of raw item id "260"

Columns: a scalar numeric column is a 1-D array of its type (u8 uint8,
i32 int32, u32 uint32, i64 int64, u64 uint64, f32 float32, f64 float64);
a vector column (`f32[k]`) a 2-D array of shape (rows, k); a `str`
column a 1-D object array of Python str (bytes that are not UTF-8 decode
with errors="surrogateescape", so nothing is lost).  Attributes are a
dict of str to str, as the format stores them.

Everything the C reader checks is checked (magic, version, header and
payload CRC-32s, block sequence, column layout, string offsets, end
markers, truncation, bytes after the last table); a bad stream raises
FrameError naming the source and the byte offset, as the C tools do:
"model.bin: byte 4096: block payload checksum mismatch".

Run as a program, `python3 cinefilter.py [FILE]` lists the tables of FILE
(or stdin) as `bin2csv --list` does.
"""

import mmap
import os
import sys
import zlib

import numpy as np

__all__ = ["FrameError", "Table", "Model", "read", "read_table", "read_model"]
__version__ = "0.1.0"

_TABLE_MAGIC = b"\x89CFR\r\n\x1a\n"
_BLOCK_MAGIC = b"CFBK"
_VERSION = 1
_MAX_HEADER = 16 << 20
_MAX_COLS = 4096
_MAX_WIDTH = 1 << 24

# type code -> (name, little-endian dtype or None for str)
_TYPES = {
    1: ("u8", np.dtype("u1")),
    2: ("i32", np.dtype("<i4")),
    3: ("u32", np.dtype("<u4")),
    4: ("i64", np.dtype("<i8")),
    5: ("u64", np.dtype("<u8")),
    6: ("f32", np.dtype("<f4")),
    7: ("f64", np.dtype("<f8")),
    8: ("str", None),
}

# The model stream's tables, in order (docs/frame-format.md, "Model streams").
_MODEL_TABLES = ("model", "user_factors", "item_factors", "users", "items", "seen")


class FrameError(ValueError):
    """A stream that is not a valid frame stream: source, byte offset, reason."""

    def __init__(self, source, offset, reason):
        super().__init__("%s: byte %d: %s" % (source, offset, reason))
        self.source = source
        self.offset = offset
        self.reason = reason


class Table:
    """One table: its name, attributes, and columns as NumPy arrays.

    columns  dict of column name -> array, in the stream's column order
    types    dict of column name -> (type name, width), e.g. ("f32", 64)
    attrs    dict of attribute key -> value (str)
    nrows    the row count
    t["name"] is t.columns["name"]; len(t) is nrows.
    """

    def __init__(self, name, columns, types, attrs, nrows):
        self.name = name
        self.columns = columns
        self.types = types
        self.attrs = attrs
        self.nrows = nrows

    def __getitem__(self, col):
        return self.columns[col]

    def __contains__(self, col):
        return col in self.columns

    def __len__(self):
        return self.nrows

    def __repr__(self):
        cols = ",".join(
            "%s:%s%s" % (c, t, "[%d]" % w if w > 1 else "") for c, (t, w) in self.types.items()
        )
        return "<Table %s rows=%d %s>" % (self.name, self.nrows, cols)


class Model:
    """A model stream (mf-fit's output) as arrays.

    attrs          the `model` table's attributes (dict of str); algo, k
                   and mu also as typed attributes
    users, items   raw ids (object arrays of str): row i of the factor
                   tables is user users[i] / item items[i]
    user_index, item_index   dict raw id -> row
    user_bias, item_bias     float32 arrays (n_users,), (n_items,)
    user_factors, item_factors   float32 arrays (n_users, k), (n_items, k)
    seen           the `seen` Table: user, item (row indices), rating,
                   and timestamp when present
    """

    def __init__(self, tables, source):
        names = tuple(t.name for t in tables)
        if names != _MODEL_TABLES:
            raise ValueError(
                "%s: not a model stream: tables %s, expected %s"
                % (source, ", ".join(names) or "none", ", ".join(_MODEL_TABLES))
            )
        model, uf, itf, users, items, seen = tables
        self.attrs = dict(model.attrs)
        for key in ("algo", "k", "mu", "n_users", "n_items"):
            if key not in self.attrs:
                raise ValueError("%s: the 'model' table has no '%s' attribute" % (source, key))
        self.algo = self.attrs["algo"]
        self.k = int(self.attrs["k"])
        self.mu = float(self.attrs["mu"])
        self.users = users["id"]
        self.items = items["id"]
        self.user_bias = uf["bias"]
        self.item_bias = itf["bias"]
        self.user_factors = _factors(uf, self.k)
        self.item_factors = _factors(itf, self.k)
        self.seen = seen
        if len(self.users) != len(self.user_bias) or len(self.items) != len(self.item_bias):
            raise ValueError("%s: the id dictionaries and factor tables differ in length" % source)
        self.user_index = {u: i for i, u in enumerate(self.users)}
        self.item_index = {v: i for i, v in enumerate(self.items)}

    def scores(self, user):
        """Every item's score for a raw user id, as mf-score computes it
        (before excluding seen items): a float32 array of n_items."""
        u = self.user_index[user]
        pq = self.item_factors @ self.user_factors[u]
        if self.algo == "ials":
            return pq
        if self.algo == "popular":
            return self.item_bias.copy()
        s = np.float32(self.mu) + self.user_bias[u] + self.item_bias + pq
        lo, hi = self.attrs.get("rating_min"), self.attrs.get("rating_max")
        if lo is not None and hi is not None:
            s = np.clip(s, np.float32(float(lo)), np.float32(float(hi)))
        return s


def _factors(t, k):
    if k == 0:
        return np.zeros((t.nrows, 0), dtype=np.float32)
    return t["factors"]


class _Parser:
    """Walks a buffer table by table, checking what docs/frame-format.md says a reader checks."""

    def __init__(self, buf, source):
        self.buf = buf
        self.n = len(buf)
        self.source = source

    def fail(self, pos, reason):
        raise FrameError(self.source, pos, reason)

    def u16(self, p):
        return int.from_bytes(self.buf[p:p + 2], "little")

    def u32(self, p):
        return int.from_bytes(self.buf[p:p + 4], "little")

    def u64(self, p):
        return int.from_bytes(self.buf[p:p + 8], "little")

    def need(self, pos, length, what):
        if pos + length > self.n:
            self.fail(pos, "truncated %s: %d bytes needed, %d left" % (what, length, self.n - pos))

    def text(self, b):
        return bytes(b).decode("utf-8", "surrogateescape")

    def tables(self):
        pos = 0
        while pos < self.n:
            table, pos = self.table(pos)
            yield table

    def header(self, pos):
        b = self.buf
        if bytes(b[pos:pos + 8]) != _TABLE_MAGIC:
            if pos == 0:
                self.fail(0, "not a cinefilter frame stream (bad table magic); "
                             "a CSV file goes through csv2bin first")
            self.fail(pos, "bad table magic: corrupt stream, or data after the last table")
        self.need(pos, 64, "table header")
        if self.u16(pos + 8) != _VERSION:
            self.fail(pos + 8, "format version %d, this reader knows %d" % (self.u16(pos + 8), _VERSION))
        hl = self.u32(pos + 12)
        if hl < 64 or hl % 64 or hl > _MAX_HEADER:
            self.fail(pos + 12, "bad header length %d" % hl)
        self.need(pos, hl, "table header")
        end = pos + hl - 8
        if zlib.crc32(b[pos:end]) != self.u32(end):
            self.fail(pos, "table header checksum mismatch")
        if self.u32(end + 4):
            self.fail(end + 4, "non-zero reserved bytes after the header checksum")
        ncols, nattrs, name_len = self.u32(pos + 16), self.u32(pos + 20), self.u16(pos + 24)
        if ncols > _MAX_COLS:
            self.fail(pos + 16, "%d columns, at most %d" % (ncols, _MAX_COLS))
        p = pos + 32

        def take(length, what):
            nonlocal p
            padded = (length + 7) & ~7
            if p + padded > end:
                self.fail(p, "%s runs past the table header" % what)
            s = b[p:p + length]
            p += padded
            return s

        name = self.text(take(name_len, "the table name"))
        cols = []
        for i in range(ncols):
            if p + 8 > end:
                self.fail(p, "column %d runs past the table header" % i)
            code, clen, width = b[p], self.u16(p + 2), self.u32(p + 4)
            if code not in _TYPES:
                self.fail(p, "column %d: unknown type code %d" % (i, code))
            if width < 1 or width > _MAX_WIDTH or (code == 8 and width != 1):
                self.fail(p + 4, "column %d: bad width %d" % (i, width))
            p += 8
            cname = self.text(take(clen, "a column name"))
            if any(c[0] == cname for c in cols):
                self.fail(p, "column name '%s' repeated" % cname)
            cols.append((cname, code, width))
        attrs = {}
        for i in range(nattrs):
            if p + 8 > end:
                self.fail(p, "attribute %d runs past the table header" % i)
            klen, vlen = self.u16(p), self.u32(p + 4)
            p += 8
            kv = take(klen + vlen, "an attribute")
            attrs[self.text(kv[:klen])] = self.text(kv[klen:])     # a repeat: the last
        return name, cols, attrs, pos + hl

    def table(self, pos):
        name, cols, attrs, pos = self.header(pos)
        parts = [[] for _ in cols]
        nblocks = rows = 0
        while True:
            if pos >= self.n:
                self.fail(pos, "truncated: table '%s' has no end marker" % name)
            self.need(pos, 64, "block header")
            b = self.buf
            if bytes(b[pos:pos + 4]) != _BLOCK_MAGIC:
                self.fail(pos, "bad block magic in table '%s'" % name)
            if zlib.crc32(b[pos:pos + 56]) != self.u32(pos + 56):
                self.fail(pos, "block header checksum mismatch")
            if self.u32(pos + 60):
                self.fail(pos + 60, "non-zero reserved bytes after the block checksum")
            nrows, plen = self.u32(pos + 4), self.u64(pos + 8)
            index, total, pcrc = self.u64(pos + 16), self.u64(pos + 24), self.u32(pos + 32)
            if nrows == 0:
                if plen or pcrc or index != nblocks or total != rows:
                    self.fail(pos, "end marker says %d blocks and %d rows, read %d and %d"
                              % (index, total, nblocks, rows))
                pos += 64
                break
            if index != nblocks or total != rows + nrows:
                self.fail(pos, "block %d out of sequence (expected block %d): "
                               "lost, repeated or reordered" % (index, nblocks))
            if plen % 64:
                self.fail(pos + 8, "payload length %d is not a multiple of 64" % plen)
            if pos + 64 + plen > self.n:
                self.fail(pos, "truncated stream: block payload cut short (%d bytes, %d left)"
                          % (plen, self.n - pos - 64))
            p0 = pos + 64
            if zlib.crc32(b[p0:p0 + plen]) != pcrc:
                self.fail(pos, "block payload checksum mismatch")
            self.payload(p0, plen, nrows, cols, parts)
            nblocks += 1
            rows += nrows
            pos = p0 + plen
        columns, types = {}, {}
        for (cname, code, width), chunks in zip(cols, parts):
            tname, dt = _TYPES[code]
            types[cname] = (tname, width)
            if dt is None:
                arr = np.empty(rows, dtype=object)
                i = 0
                for strs in chunks:
                    arr[i:i + len(strs)] = strs
                    i += len(strs)
            elif not chunks:
                arr = np.empty((0, width) if width > 1 else 0, dtype=dt.newbyteorder("="))
            else:
                arr = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
                arr = arr.astype(dt.newbyteorder("="), copy=False)
                if width > 1:
                    arr = arr.reshape(rows, width)
            columns[cname] = arr
        return Table(name, columns, types, attrs, rows), pos

    def payload(self, p0, plen, nrows, cols, parts):
        p, end = p0, p0 + plen
        for ci, (cname, code, width) in enumerate(cols):
            dt = _TYPES[code][1]
            if dt is None:
                self.need(p, 4 * (nrows + 1), "string offsets")
                if p + 4 * (nrows + 1) > end:
                    self.fail(p, "column '%s': string offsets run past the payload" % cname)
                off = np.frombuffer(self.buf, dtype="<u4", count=nrows + 1, offset=p).astype(np.int64)
                if off[0] != 0 or np.any(np.diff(off) < 0):
                    self.fail(p, "column '%s': string offsets do not start at 0 and grow" % cname)
                length = 4 * (nrows + 1) + int(off[-1])
                if p + length > end:
                    self.fail(p, "column '%s': string bytes run past the payload" % cname)
                data = bytes(self.buf[p + 4 * (nrows + 1):p + length])
                ol = off.tolist()
                parts[ci].append([data[ol[i]:ol[i + 1]].decode("utf-8", "surrogateescape")
                                  for i in range(nrows)])
            else:
                length = nrows * width * dt.itemsize
                if p + length > end:
                    self.fail(p, "column '%s' runs past the payload" % cname)
                parts[ci].append(np.frombuffer(self.buf, dtype=dt, count=nrows * width, offset=p))
            p += (length + 63) & ~63
        if p != end:
            self.fail(p0, "payload length %d, but its columns take %d bytes" % (plen, p - p0))


def _load(source):
    """The bytes of source (a path, '-' for stdin, bytes, or a binary file) and its name."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return memoryview(source), "<bytes>"
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-":
        name = os.fspath(source)
        with open(name, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return memoryview(b""), name
            try:
                # Mapped: single-block numeric columns (the factor matrices)
                # are views of the file, not copies.
                return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)), name
            except (OSError, ValueError):
                f.seek(0)
                return memoryview(f.read()), name
    if source == "-" or source is None:
        return memoryview(sys.stdin.buffer.read()), "stdin"
    return memoryview(source.read()), getattr(source, "name", "<stream>")


def read(source):
    """Every table of a frame stream, as a list of Table, in stream order.

    source: a path, "-" (stdin), bytes, or a binary file object."""
    buf, name = _load(source)
    if len(buf) == 0:
        raise FrameError(name, 0, "empty input: no table")
    return list(_Parser(buf, name).tables())


def read_table(source, name):
    """The first table called name in source (KeyError if there is none)."""
    for t in read(source):
        if t.name == name:
            return t
    raise KeyError("no '%s' table" % name)


def read_model(source):
    """A model stream (mf-fit -o MODEL) as a Model."""
    buf, name = _load(source)
    if len(buf) == 0:
        raise FrameError(name, 0, "empty input: no model")
    return Model(list(_Parser(buf, name).tables()), name)


def _main(argv):
    src = argv[1] if len(argv) > 1 else "-"
    try:
        for t in read(src):
            cols = ",".join("%s:%s%s" % (c, ty, "[%d]" % w if w > 1 else "")
                            for c, (ty, w) in t.types.items())
            line = "%s\t%d\t%s" % (t.name, t.nrows, cols)
            if t.attrs:
                line += "\t" + " ".join("%s=%s" % kv for kv in t.attrs.items())
            print(line)
    except (FrameError, OSError) as e:
        print("cinefilter.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
