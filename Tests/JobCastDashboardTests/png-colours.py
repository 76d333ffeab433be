#!/usr/bin/env python3
"""Reads a PNG (8-bit RGB or RGBA, not interlaced: what Chromium's --screenshot writes) with the standard
library only, and prints JSON: width, height, distinct colours, the share of pixels that are not the
page background, and how many pixels are near each colour given as #rrggbb arguments.

    png-colours.py shot.png '#2e7d32' '#1565c0'
"""
import json
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous, offset = [], bytearray(stride), 0
    for _ in range(height):
        kind = raw[offset]
        line = bytearray(raw[offset + 1:offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(line)
        previous = line
    pixels = [tuple(row[x * channels:x * channels + 3]) for row in rows for x in range(width)]
    return width, height, pixels


def main():
    path, wanted = sys.argv[1], sys.argv[2:]
    width, height, pixels = read_png(path)
    counts = {}
    for p in pixels:
        counts[p] = counts.get(p, 0) + 1
    background = max(counts, key=counts.get)
    near = {}
    for colour in wanted:
        target = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        near[colour] = sum(n for p, n in counts.items() if all(abs(p[k] - target[k]) <= 8 for k in range(3)))
    print(json.dumps({
        "width": width, "height": height, "distinct_colours": len(counts),
        "background": "#%02x%02x%02x" % background,
        "non_background_share": round(1 - counts[background] / len(pixels), 4),
        "near": near,
    }))


if __name__ == "__main__":
    main()
