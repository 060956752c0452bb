#!/usr/bin/env python3
"""AVIF encoding of the 1024x1024 bench input on one thread: ours (libaom through imaging::avif, the
avif_time example) against Debian's avifenc (libavif with libaom) and pyvips' heifsave
(libheif with libaom), at the same quality and speed settings.

    python infra/bench/avif.py --input target/bench/input-1024.png --rust target/release/examples/avif_time

Settings: quality 60 of 100 everywhere (avifenc 0.11 takes quantizers: (100 - 60) * 63 / 100
= 25 for --min and --max; libheif maps Q the same way), 4:2:0, 8-bit. Speed s is libaom's cpu-used, ours and
avifenc's -s s; libvips' effort is 9 - s (libheif passes cpu-used = 9 - effort to libaom).
avifenc reads a full-range Y4M made beforehand, so its time is encoding, not PNG decoding nor
RGB-to-YUV conversion (ours includes the conversion); it is a process
of its own, so its time includes starting one (a few ms, measured and subtracted).
PSNR is of the decoded file (libvips, dav1d) against the input's RGB.
"""
import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["VIPS_CONCURRENCY"] = "1"

import pyvips  # noqa: E402

QUALITY = 60
QUANTIZER = round((100 - QUALITY) * 63 / 100)
SPEEDS = (6, 7, 8, 9)
# imaging::variants::AVIF_SPEED
SHIPPED_SPEED = 7
RUNS = 5


def psnr(path_or_bytes, reference: pyvips.Image) -> float:
    if isinstance(path_or_bytes, bytes):
        im = pyvips.Image.new_from_buffer(path_or_bytes, "")
    else:
        im = pyvips.Image.new_from_file(path_or_bytes)
    diff = (im[0:3].cast("float") - reference.cast("float")) ** 2
    mse = diff.avg()
    return float("inf") if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def wall_ms(cmd) -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--rust", required=True, help="the avif_time example")
    args = ap.parse_args()
    ref = pyvips.Image.new_from_file(args.input)[0:3]
    tmp = tempfile.mkdtemp()
    y4m = os.path.join(tmp, "input.y4m")
    # Full-range BT.601, as libavif converts RGB by default and as ours does (ffmpeg's default,
    # limited range, has fewer levels to spend bits on).
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", args.input, "-vf",
                    "scale=out_range=full:out_color_matrix=bt601", "-pix_fmt", "yuvj420p",
                    "-strict", "-1", y4m], check=True)
    version = subprocess.run(["avifenc", "--version"], capture_output=True, text=True).stdout
    print(f"avifenc: {version.splitlines()[0] if version else '?'}; libvips "
          f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}; one thread each")
    # What starting avifenc costs, without encoding anything.
    startup = wall_ms(["avifenc", "--version"])
    print(f"input {args.input} {ref.width}x{ref.height}; quality {QUALITY} (quantizer {QUANTIZER}),"
          f" 4:2:0; avifenc start-up {startup:.1f} ms subtracted")
    print(f"  {'encoder':<22}{'speed':>6}{'ms':>9}{'bytes':>9}{'PSNR dB':>9}")
    rows = []
    for s in SPEEDS:
        out = os.path.join(tmp, f"rust-{s}.avif")
        line = subprocess.run([args.rust, str(s), str(QUALITY), str(RUNS), out], check=True,
                              capture_output=True, text=True).stdout.split()
        rows.append(("ours (libaom)", s, float(line[0]), int(line[1]), psnr(out, ref)))
        out = os.path.join(tmp, f"aom-{s}.avif")
        cmd = ["avifenc", "-j", "1", "-c", "aom", "-s", str(s), "--min", str(QUANTIZER), "--max",
               str(QUANTIZER), "-y", "420", "-d", "8", y4m, out]
        ms = wall_ms(cmd) - startup
        rows.append(("avifenc (libaom)", s, ms, os.path.getsize(out), psnr(out, ref)))
        effort = 9 - s
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            data = ref.heifsave_buffer(compression="av1", Q=QUALITY, effort=effort,
                                       subsample_mode="on", encoder="aom")
            times.append(time.perf_counter() - t0)
        rows.append(("pyvips heifsave (aom)", s, statistics.median(times) * 1e3, len(data),
                     psnr(data, ref)))
    for name, s, ms, size, db in rows:
        print(f"  {name:<22}{s:>6}{ms:>9.1f}{size:>9}{db:>9.2f}")
    # The goal, at the speed the variants are made with and the same quality setting: at least
    # as fast as avifenc and libvips, in no more bytes.
    ours, *others = [r for r in rows if r[1] == SHIPPED_SPEED]
    met = all(ours[2] <= o[2] and ours[3] <= o[3] for o in others)
    print(f"goal at speed {SHIPPED_SPEED} (the variants'): as fast as avifenc and libvips in no more"
          f" bytes: {'met' if met else 'NOT met'}")
    thumbs = subprocess.run([args.rust, "--thumbnails"], check=True, capture_output=True,
                            text=True).stdout.split()
    print(f"thumbnail {thumbs[0]}: PNG {thumbs[2]} bytes, WebP q80 {thumbs[4]}, "
          f"AVIF q{QUALITY} {thumbs[6]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
