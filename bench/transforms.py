#!/usr/bin/env python3
"""Single transforms and encoders in Pillow and in pyvips (libvips), single-threaded.

The input PNG is decoded once, outside timing, to an in-memory image per library;
each operation is then timed on its own (median after warm-up) and compared with
the Rust criterion bench `transforms/<operation>` when its estimates exist.

    python bench/transforms.py --input target/bench/input-1024.png [--iterations 30] \
        [--criterion target/criterion]

Sinks: Pillow is eager, so a returned Image is fully computed. libvips is lazy;
transforms end in .copy_memory() (renders into one memory image, no copy out to
Python) and encoders in write_to_buffer() (bytes).
Same meaning, different algorithms (expect small pixel differences):
  * gaussian blur: Pillow's GaussianBlur is 3 extended box blurs (radius = sigma);
    libvips convolves a real Gaussian mask (integer precision for uchar).
  * colour_adjust: Pillow folds brightness and contrast into one point() LUT
    (exact: both are per-value maps, each rounded and clamped), then saturation is
    one convert("RGB", matrix), since y + (v - y)*0.8 = 0.8 v + 0.2 y is linear
    in r, g, b. libvips: linear() twice and recomb() with the same matrix, fused
    into one pass by its pipeline. Rounding is half-up, as Rust's f32::round for
    non-negative values: libvips' rint() rounds ties to even, so +0.5 then the
    truncating, clamping cast("uchar") is used instead.
  * PNG: adaptive row filters everywhere (Pillow always, Rust FilterType::Adaptive;
    libvips' default is no filtering, so filter=ALL is asked for), zlib level 1.
  * JPEG: Pillow uses libjpeg-turbo; pyvips-binary ships mozjpeg, which libvips
    drives with its fastest (libjpeg-turbo like) profile unless told otherwise.
"""
import argparse
import io
import json
import os
import statistics
import sys
import time

# libvips reads this when it starts up, so it must be set before the import.
os.environ["VIPS_CONCURRENCY"] = "1"

import pyvips  # noqa: E402
from PIL import Image, ImageChops, ImageFilter, features  # noqa: E402

WARMUP = 3
ZLIB_LEVEL = 1
QUALITY = 80
PNG_FILTER_ALL = 0xF8  # VIPS_FOREIGN_PNG_FILTER_ALL: libpng's adaptive choice
BRIGHTNESS, CONTRAST, SATURATION = 1.1, 1.2, 0.8
LUMA = (0.2126, 0.7152, 0.0722)  # Rec.709


def u8(v: float) -> int:
    """Round half up (Rust's f32::round for v >= 0) and clamp to 0..255."""
    return max(0, min(255, int(v + 0.5) if v >= 0 else -int(-v + 0.5)))


BC_LUT = [u8((u8(v * BRIGHTNESS) - 128) * CONTRAST + 128) for v in range(256)] * 3
# v' = y + (v - y) s = s v + (1 - s) y: row i of a 3x3 matrix on (r, g, b).
SAT = [[(1 - SATURATION) * LUMA[j] + (SATURATION if i == j else 0) for j in range(3)]
       for i in range(3)]
PIL_SAT = tuple(c for row in SAT for c in row + [0.0])  # 3x4 for Image.convert

pyvips.cache_set_max(0)  # no operation cache: every run really recomputes
if hasattr(pyvips, "concurrency_set"):
    pyvips.concurrency_set(1)


def pillow_ops(im: Image.Image) -> dict:
    def png():
        buf = io.BytesIO()
        im.save(buf, "PNG", compress_level=ZLIB_LEVEL)
        return buf.getvalue()

    def webp():
        buf = io.BytesIO()
        im.save(buf, "WEBP", quality=QUALITY, method=4)  # method 4 = libwebp default
        return buf.getvalue()

    def jpeg():
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=QUALITY, subsampling="4:2:0",
                optimize=False, progressive=False)
        return buf.getvalue()

    return {
        "resize_lanczos3_1024_to_512":
            lambda: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
        "gaussian_blur_sigma_2": lambda: im.filter(ImageFilter.GaussianBlur(radius=2)),
        "colour_adjust": lambda: im.point(BC_LUT).convert("RGB", PIL_SAT),
        "encode_png": png,
        "encode_webp_q80": webp,
        "encode_jpeg_q80": jpeg,
    }


def vips_ops(im: pyvips.Image) -> dict:
    def colour():
        # float a*v + b + 0.5, then cast truncates and clamps: round half up + clamp.
        # (linear(..., uchar=True) does the same but is ~5x slower: not vectorised.)
        out = im.linear(BRIGHTNESS, 0.5).cast("uchar")
        out = out.linear(CONTRAST, 128 - 128 * CONTRAST + 0.5).cast("uchar")
        return out.recomb(SAT).linear(1, 0.5).cast("uchar").copy_memory()

    return {
        "resize_lanczos3_1024_to_512":
            lambda: im.resize(0.5, kernel="lanczos3").copy_memory(),
        "gaussian_blur_sigma_2": lambda: im.gaussblur(2.0).copy_memory(),
        "colour_adjust": colour,
        "encode_png": lambda: im.write_to_buffer(
            ".png", compression=ZLIB_LEVEL, filter=PNG_FILTER_ALL),
        "encode_webp_q80": lambda: im.write_to_buffer(".webp", Q=QUALITY, effort=4),
        "encode_jpeg_q80": lambda: im.write_to_buffer(
            ".jpg", Q=QUALITY, subsample_mode="on", optimize_coding=False,
            interlace=False),
    }


def to_pillow(out) -> Image.Image:
    """Neutral view of any output: encoded bytes or images decoded by Pillow."""
    if isinstance(out, bytes):
        im = Image.open(io.BytesIO(out))
        im.load()
        return im
    if isinstance(out, pyvips.Image):
        return Image.frombytes("RGB", (out.width, out.height), out.write_to_memory())
    return out


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    hist = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).histogram()
    return sum((i % 256) * n for i, n in enumerate(hist)) / (a.width * a.height * 3)


def median_ms(fn, iterations: int) -> float:
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def rust_ms(criterion: str, name: str):
    path = os.path.join(criterion, "transforms", name, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"] / 1e6  # ns -> ms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="1024x1024 RGB PNG")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--criterion", default="target/criterion",
                    help="criterion output dir holding transforms/<op>/new/estimates.json")
    args = ap.parse_args()

    with open(args.input, "rb") as f:
        data = f.read()
    pil = Image.open(io.BytesIO(data))
    pil.load()
    if pil.mode != "RGB":
        pil = pil.convert("RGB")
    vips = pyvips.Image.new_from_buffer(data, "")
    if vips.bands < 3:
        vips = vips.colourspace("srgb")
    vips = vips[0:3].cast("uchar").copy_memory()  # decoded here, not in the timings

    print(f"Python {sys.version.split()[0]}, Pillow {Image.__version__} "
          f"(zlib {features.version('zlib')}, libjpeg-turbo "
          f"{features.version('libjpeg_turbo')}, libwebp {features.version('webp')}), "
          f"pyvips {pyvips.__version__}, libvips "
          f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}")
    conc = pyvips.concurrency_get() if hasattr(pyvips, "concurrency_get") else "?"
    print(f"libvips concurrency {conc}, cache off; input {args.input} "
          f"{pil.width}x{pil.height} RGB")

    p_ops, v_ops = pillow_ops(pil), vips_ops(vips)
    ok = True
    print("checks (outputs decoded/viewed with Pillow; diff = mean |Pillow - pyvips|):")
    for name in p_ops:
        a, b = p_ops[name](), v_ops[name]()
        pa, pb = to_pillow(a), to_pillow(b)
        want = (pil.width, pil.height) if name.startswith("encode") else pa.size
        good = pa.size == pb.size == want
        if name == "resize_lanczos3_1024_to_512":
            good = good and pa.size == (pil.width // 2, pil.height // 2)
        ok &= good
        sizes = f"  bytes {len(a):>8} {len(b):>8}" if isinstance(a, bytes) else ""
        print(f"  {name:<28} {pa.width}x{pa.height} {pb.width}x{pb.height}  "
              f"diff {mean_diff(pa, pb):5.2f}{sizes}  {'ok' if good else 'FAILED'}")

    print(f"\nmedian ms of {args.iterations} runs after {WARMUP} warm-up, single thread:")
    print(f"  {'operation':<28}{'Rust':>9}{'Pillow':>9}{'pyvips':>9}"
          f"{'Pillow/Rust':>13}{'pyvips/Rust':>13}")
    for name in p_ops:
        r = rust_ms(args.criterion, name)
        p = median_ms(p_ops[name], args.iterations)
        v = median_ms(v_ops[name], args.iterations)
        ratio = (lambda t: "-" if r is None else f"{t / r:.2f}x")
        print(f"  {name:<28}{'-' if r is None else f'{r:.2f}':>9}{p:>9.2f}{v:>9.2f}"
              f"{ratio(p):>13}{ratio(v):>13}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
