#!/usr/bin/python3
"""Writes the seed corpus of tests/fuzz (README.md has the encoding).

Each seed is a short, readable op script; together they cover every op,
every argument form and the patterns the designs are known for (reuse
after free, migration, V1's ascending rule, upgrades). Run it again after
changing the encoding; regression inputs saved from crashes live beside
the seeds under other names (regress-*) and are kept.

    /usr/bin/python3 tests/fuzz/mkseeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# Op bytes: the first value of each kind's range of op byte % 32.
GROW, WRITE, ALIEN, FREE, REOPEN, FORMAT, READ = 0, 9, 15, 16, 23, 25, 26
# Bucket-size selectors (fz_bucket_pages): 1, 1, 2, 3, 4, 5, 8, 16 pages.
B1, B2, B3, B4, B5, B8, B16 = 0, 2, 3, 4, 5, 6, 7
BAD_ID = 0xFC        # decodes to memory id 255
ID_254 = 0xFB
INSIDE, EDGE, END, FAR = 0, 1, 2, 3  # offset selector modes


def grow(i, amount):
    return bytes([GROW, i, amount])


def grow_pages(i, n):
    """Grow by n pages (0..3) with the small-amount form."""
    return grow(i, n)


def grow_buckets(i, k, extra=0):
    """Grow by k buckets (1..4) plus extra pages (-4..3)."""
    return grow(i, 0x80 | (k - 1) << 3 | (extra + 4))


def off(mode, x):
    return struct.pack("<H", mode << 14 | x)


def write(i, mode, x, length, seed):
    return bytes([WRITE, i]) + off(mode, x) + bytes([length, seed])


def read(i, mode, x, length):
    return bytes([READ, i]) + off(mode, x) + bytes([length])


def free(i):
    return bytes([FREE, i])


def reopen(as_file=False, ask=0):
    return bytes([REOPEN, int(as_file) | ask << 1])


def fmt(selector):
    return bytes([FORMAT, selector])


def alien(design, as_file=False):
    return bytes([ALIEN, design, int(as_file)])


def edge_write_read(i, bucket, length, seed):
    """A write and a read astride the end of bucket `bucket`."""
    x = bucket << 6 | 32 - 3  # 3 bytes before the edge
    return write(i, EDGE, x, length, seed) + read(i, EDGE, x, length)


DIFF = {
    "grow-write-read": bytes([B1]) + grow_pages(0, 3) + write(0, INSIDE, 0, 0x1F, 1)
    + read(0, INSIDE, 0, 0x1F) + edge_write_read(0, 1, 0x10, 2)
    + write(0, INSIDE, 0x2000, 0x90, 3) + read(0, INSIDE, 0x1F00, 0xA0) + reopen(),
    "spans-long": bytes([B2]) + grow_buckets(1, 3) + write(1, INSIDE, 0, 0xFE, 4)
    + read(1, INSIDE, 0, 0xFE) + read(1, INSIDE, 0x3FFF, 0xE5) + reopen(True),
    "free-reuse": bytes([B1]) + grow_pages(0, 2) + grow_pages(1, 2)
    + write(0, INSIDE, 0, 0x20, 5) + write(0, END, 32, 0x20, 6) + free(0) + read(0, INSIDE, 0, 1)
    + grow_pages(2, 3) + read(2, INSIDE, 0, 0xFE) + reopen() + grow_pages(3, 2) + free(3)
    + free(3) + reopen(ask=1) + grow_pages(1, 1),
    "migrate": bytes([B1]) + grow_pages(0, 3) + write(0, INSIDE, 0x1000, 0x40, 7)
    + grow_pages(1, 1) + write(1, INSIDE, 0, 0x40, 7) + grow_pages(1, 1) + grow_pages(1, 1)
    + free(0) + grow_pages(1, 3) + read(1, INSIDE, 0, 0xFE) + reopen(),
    "v1-ascending": bytes([B1]) + grow_pages(0, 1) + grow_pages(1, 3) + grow_pages(0, 2)
    + free(0) + grow_pages(1, 1) + grow_pages(1, 2) + reopen() + alien(0) + alien(1),
    "errors": bytes([B3]) + grow(BAD_ID, 1) + free(BAD_ID) + write(BAD_ID, INSIDE, 0, 4, 1)
    + read(BAD_ID, INSIDE, 0, 4) + grow_pages(2, 2) + grow(2, 0xFF) + grow(2, 0xFE)
    + write(2, END, 40, 0x1F, 8) + read(2, END, 40, 0x1F) + write(2, FAR, 1, 8, 9)
    + read(2, FAR, 0, 8) + read(2, FAR, 0x40, 8) + read(2, END, 32, 0xFF)
    + write(2, FAR, 2, 0xFF, 9) + read(5, INSIDE, 0, 1) + free(5),
    "reopen-variants": bytes([B4]) + grow_buckets(0, 2, 1) + write(0, EDGE, 1 << 6 | 30, 8, 10)
    + reopen(True, 2) + reopen(False, 1) + reopen(True, 3) + read(0, EDGE, 1 << 6 | 30, 8),
    "format": bytes([B1]) + grow_pages(0, 3) + write(0, INSIDE, 0, 8, 11) + fmt(B3)
    + read(0, INSIDE, 0, 1) + grow_buckets(0, 1, 2) + edge_write_read(0, 1, 0x1F, 12)
    + fmt(B16) + grow_pages(1, 1) + reopen(),
    "alien-all": bytes([B2]) + grow_pages(0, 3) + grow_pages(7, 1) + write(0, INSIDE, 0, 8, 13)
    + b"".join(alien(d, d % 2 == 1) for d in range(8)),
    "bucket-sizes-odd": bytes([B5]) + grow(0, 0xC0) + grow(0, 0xC2) + grow(0, 0xC1)
    + grow_buckets(1, 4, 3) + edge_write_read(1, 2, 0x1F, 14) + free(0)
    + grow_buckets(2, 1, -1) + reopen(),
    "bucket-sizes-big": bytes([B16]) + grow_buckets(0, 1) + grow_pages(1, 1) + free(0)
    + grow_pages(2, 3) + edge_write_read(0, 0, 0x10, 15) + reopen(True),
    "bucket-8-many": bytes([B8]) + b"".join(grow_pages(i, 1) for i in range(6))
    + free(2) + free(4) + grow_buckets(5, 2) + reopen(),
    "high-ids": bytes([B1]) + grow(ID_254, 2) + grow(0xE8, 1) + grow(0xFA, 1)
    + write(ID_254, END, 32, 0x1F, 16) + free(0xE8) + grow(ID_254, 1) + reopen()
    + read(ID_254, INSIDE, 0, 0xFE),
    "churn": bytes([B2]) + b"".join(grow_pages(i % 6, 1 + i % 3) + (free((i * 5) % 6) if i % 3 == 2
                                    else b"") for i in range(24)) + reopen() + alien(2),
}

# fuzz_open: image selector, opener (< 0x80: the image's own design), ask
# and file flags, mutation count, mutations, then ops as in fuzz_diff.
OWN, ANY = 0x00, 0x80


def mutation(kind, where, offset, value, raw=b""):
    return bytes([kind | where << 6]) + struct.pack("<I", offset)[:3] + bytes([value]) + raw


XOR, SET8, SET16, SET32, SET64, RESIZE, COPY, FILL = range(8)
WHOLE, FIXED, HEADER = 0, 1, 2


def open_seed(image, opener, ask, mutations, ops=b""):
    return bytes([image, opener, ask, len(mutations)]) + b"".join(mutations) + ops


OPS = (grow_pages(0, 1) + write(0, END, 32, 0x1F, 1) + free(3) + grow_pages(5, 2)
       + read(0, END, 32, 0x40) + reopen())
OPEN = {}
for image in range(12):
    OPEN[f"clean-{image}"] = open_seed(image, OWN, 0, [], OPS)
    OPEN[f"other-{image}"] = open_seed(image, ANY + image % 6, 0, [], OPS)
OPEN.update({
    "version": open_seed(0, OWN, 0, [mutation(SET8, FIXED, 3, 0x82)]),
    "magic": open_seed(2, OWN, 0, [mutation(XOR, FIXED, 1, 0x20)]),
    "bucket-size-zero": open_seed(1, OWN, 0, [mutation(SET16, FIXED, 6, 0, b"\0\0")]),
    "wrong-ask": open_seed(3, OWN, 2, []),
    "count-huge": open_seed(4, OWN, 0, [mutation(SET32, FIXED, 8, 0, b"\xff\xff\xff\x7f")]),
    "count-v1": open_seed(0, OWN, 0, [mutation(SET16, FIXED, 4, 0, b"\x00\x80")]),
    "size-huge": open_seed(5, OWN, 0, [mutation(SET64, FIXED, 40, 0, b"\xff" * 8)], OPS),
    "interesting": open_seed(6, OWN, 0, [mutation(SET64, FIXED, 48, 0x80 | 5)], OPS),
    "truncate": open_seed(6, OWN, 0, [mutation(RESIZE, WHOLE, 0, 0)]),
    "truncate-all": open_seed(7, OWN, 0, [mutation(RESIZE, WHOLE, 0, 0x7F)], OPS),
    "extend": open_seed(8, OWN, 0, [mutation(RESIZE, WHOLE, 0, 0x80)], OPS),
    "owner-copy": open_seed(0, ANY + 2, 1, [mutation(COPY, HEADER, 2080, 0, b"\x20\x08")]),
    "header-fill": open_seed(9, OWN, 0, [mutation(FILL, HEADER, 3000, 63)]),
    "raw-u32": open_seed(10, OWN, 0, [mutation(SET32, FIXED, 12, 0x01, b"\x07\x00\x00\x00")]),
    "many": open_seed(11, ANY + 3, 0,
                      [mutation(XOR, HEADER, 2090 + i * 7, 1 + i) for i in range(8)], OPS),
})


def main():
    for target, seeds in (("diff", DIFF), ("open", OPEN)):
        folder = os.path.join(HERE, "corpus", target)
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.startswith("seed-"):
                os.remove(os.path.join(folder, name))
        for name, data in seeds.items():
            with open(os.path.join(folder, f"seed-{name}"), "wb") as f:
                f.write(data)
        print(f"{target}: {len(seeds)} seeds in {folder}")


if __name__ == "__main__":
    main()
