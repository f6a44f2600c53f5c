"""Upload bombs built cheaply in the test: a zip member compressed once and repeated (a deflate
stream can repeat a fully flushed block), and a PNG whose rows of zeros compress 1000:1."""

from __future__ import annotations

import io
import resource
import struct
import tracemalloc
import zlib
from contextlib import contextmanager


def _raw_deflate_repeated(
    block: bytes, times: int, crc: int = 0, check=zlib.crc32
) -> tuple[bytes, int]:
    """(raw deflate stream of ``block * times``, crc32): the block is compressed once after a
    full flush, which resets the window, so the same bytes serve every repetition."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    once = co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
    tail = co.flush(zlib.Z_FINISH)
    for _ in range(times):
        crc = check(block, crc)
    return once * times + tail, crc


def zip_with(
    members: dict[str, bytes],
    big: tuple[str, bytes, bytes, int] | None = None,
    declared: int | None = None,
) -> bytes:
    """A zip (an .xlsx) of ``members`` plus one ``big`` member (name, head, block, times)
    written from a repeated deflate block; ``declared`` lies about its uncompressed size."""
    out = io.BytesIO()
    central = []

    def put(name: str, comp: bytes, crc: int, size: int) -> None:
        offset = out.tell()
        n = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(comp),
                              size, len(n), 0) + n)  # fmt: skip
        out.write(comp)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc,
                                   len(comp), size, len(n), 0, 0, 0, 0, 0, offset) + n)  # fmt: skip

    for name, data in members.items():
        co = zlib.compressobj(6, zlib.DEFLATED, -15)
        put(name, co.compress(data) + co.flush(), zlib.crc32(data), len(data))
    if big is not None:
        name, head, block, times = big
        co = zlib.compressobj(9, zlib.DEFLATED, -15)
        first = co.compress(head) + co.flush(zlib.Z_FULL_FLUSH)
        rest, crc = _raw_deflate_repeated(block, times, zlib.crc32(head))
        size = len(head) + len(block) * times
        put(name, first + rest, crc, declared if declared is not None else size)
    start = out.tell()
    for c in central:
        out.write(c)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                          out.tell() - start, start, 0))  # fmt: skip
    return out.getvalue()


def png_bomb(width: int = 7000, height: int = 7000) -> bytes:
    """An RGBA PNG of ``width`` × ``height`` transparent pixels (~200 KB for 7000²)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))  # fmt: skip

    rows = 50
    assert height % rows == 0
    block = b"\0" * ((1 + 4 * width) * rows)
    raw, adler = _raw_deflate_repeated(block, height // rows, 1, zlib.adler32)
    idat = b"\x78\xda" + raw + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@contextmanager
def memory_watch():
    """Yields a dict filled on exit with the Python heap peak (tracemalloc) and the growth of
    the process's high-water RSS (ru_maxrss, KiB on Linux: catches C buffers such as Pillow's)."""
    out: dict[str, int] = {}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        yield out
    finally:
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["py_peak"] = peak
        out["rss_growth"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024


def post_multipart(client, url: str, data: bytes, name: str, method: str = "post", **fields):
    """POST/PUT a multipart body encoded here (the test client spools a large body it encodes
    itself into a temporary file it never closes)."""
    boundary = "----gridapp-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return getattr(client, method)(
        url, data=b"".join(parts), content_type=f"multipart/form-data; boundary={boundary}"
    )
