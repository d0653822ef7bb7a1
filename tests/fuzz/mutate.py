#!/usr/bin/env python3
"""mutate.py - a tiny input mutator for tests/fuzz/progs.sh (radamsa-like,
standard library only).

  mutate.py SEED_FILE OUT_FILE N [--frame]

Writes OUT_FILE: SEED_FILE with 1 to 4 random mutations drawn from random
number N (the same N gives the same output): bit flips, byte changes to
interesting values, byte insertion and deletion, chunk duplication and
removal, line duplication and swapping (text), truncation.  With --frame,
the CRCs (and usually the block sequence numbers) of the result are then
repaired most of the time, as tests/fuzz/fuzz.h does, so that mutations
reach the programs' own checks behind the checksums.
"""
import random
import struct
import sys
import zlib

INTERESTING = [0, 1, 0x7f, 0x80, 0xff, ord("\n"), ord("\r"), ord(","),
               ord('"'), ord(":"), ord("\t"), ord("-"), ord("."), ord("9"),
               ord("e"), ord("n"), ord("|")]
TOKENS = [b",", b"::", b"\t", b'"', b'""', b"\n", b"\r\n", b"-", b"1e999",
          b"nan", b"inf", b"-0", b"0x10", b"4294967296", b"18446744073709551616",
          b"\xef\xbb\xbf", b"\x00", b"(", b"()", b" (1995)", b"|", b"\xff\xfe",
          b"9" * 40]
INTS = [0, 1, 2, 63, 64, 65, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe,
        1 << 24, (1 << 24) + 1, 4096, 4097]


def mutate_once(d, rnd):
    n = len(d)
    op = rnd.randrange(12)
    if n == 0:
        return bytearray(rnd.choice(TOKENS))
    i = rnd.randrange(n)
    if op == 0:                                     # bit flip
        d[i] ^= 1 << rnd.randrange(8)
    elif op == 1:                                   # interesting byte
        d[i] = rnd.choice(INTERESTING)
    elif op == 2:                                   # random byte
        d[i] = rnd.randrange(256)
    elif op == 3:                                   # insert bytes
        d[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 5)))
    elif op == 4:                                   # delete bytes
        del d[i:i + rnd.randrange(1, 9)]
    elif op == 5:                                   # duplicate a chunk
        j = min(n, i + rnd.randrange(1, 256))
        chunk = d[i:j]
        k = rnd.randrange(n + 1)
        d[k:k] = chunk * rnd.choice([1, 1, 2, 8])
    elif op == 6:                                   # truncate
        del d[i:]
    elif op == 7:                                   # token
        d[i:i + rnd.randrange(0, 3)] = rnd.choice(TOKENS)
    elif op == 8:                                   # a 32-bit integer
        if n >= 4:
            i = rnd.randrange(n - 3) & ~3 if rnd.random() < 0.7 else rnd.randrange(n - 3)
            d[i:i + 4] = struct.pack("<I", rnd.choice(INTS))
    elif op == 9:                                   # a 64-bit integer
        if n >= 8:
            i = rnd.randrange(n - 7) & ~7
            d[i:i + 8] = struct.pack("<Q", rnd.choice(INTS + [1 << 40, (1 << 64) - 1]))
    elif op == 10:                                  # duplicate or drop a line
        lines = d.split(b"\n")
        k = rnd.randrange(len(lines))
        if rnd.random() < 0.5:
            lines.insert(k, lines[k])
        else:
            del lines[k]
        d[:] = b"\n".join(lines)
    else:                                           # swap two lines
        lines = d.split(b"\n")
        a, b = rnd.randrange(len(lines)), rnd.randrange(len(lines))
        lines[a], lines[b] = lines[b], lines[a]
        d[:] = b"\n".join(lines)
    return d


def fix_frame(d, seq):
    """Rewrites the CRCs (and with seq the block index/total) it can find."""
    o, n = 0, len(d)
    while n - o >= 64:
        hlen = struct.unpack_from("<I", d, o + 12)[0]
        if hlen < 64 or hlen % 64 or hlen > n - o:
            return
        struct.pack_into("<I", d, o + hlen - 8, zlib.crc32(bytes(d[o:o + hlen - 8])))
        o += hlen
        index = total = 0
        while n - o >= 64 and d[o:o + 4] == b"CFBK":
            nrows, plen = struct.unpack_from("<IQ", d, o + 4)
            if plen > n - o - 64:
                return
            if seq:
                struct.pack_into("<QQ", d, o + 16, index, total + nrows)
            pc = zlib.crc32(bytes(d[o + 64:o + 64 + plen])) if nrows else 0
            struct.pack_into("<I", d, o + 32, pc)
            struct.pack_into("<I", d, o + 56, zlib.crc32(bytes(d[o:o + 56])))
            o += 64 + plen
            if nrows == 0:
                break
            index += 1
            total += nrows


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: mutate.py SEED_FILE OUT_FILE N [--frame]")
    rnd = random.Random(int(sys.argv[3]))
    with open(sys.argv[1], "rb") as f:
        d = bytearray(f.read())
    for _ in range(rnd.choice([1, 1, 1, 2, 2, 3, 4])):
        d = mutate_once(d, rnd)
    if "--frame" in sys.argv[4:] and rnd.random() < 0.85:
        fix_frame(d, rnd.random() < 0.8)
    with open(sys.argv[2], "wb") as f:
        f.write(d)


if __name__ == "__main__":
    main()
