#!/usr/bin/env python3
"""Single transforms and encoders in Pillow and in pyvips (libvips), single-threaded.

The input PNG is decoded once, outside timing, to an in-memory image per library;
each operation is then timed on its own (median after warm-up), in Rust (the
transform_time example, run right before), Pillow and pyvips back to back, so that a
machine whose speed drifts still gives honest ratios. With --memory, each operation
also runs once on a 40-megapixel picture in a process of its own, for its peak
resident memory.

    python infra/bench/transforms.py --input target/bench/input-1024.png [--iterations 30] \
        [--memory target/bench/input-8000x5000.png]

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
import math
import os
import statistics
import subprocess
import sys
import time

# libvips reads this when it starts up, so it must be set before the import.
os.environ["VIPS_CONCURRENCY"] = "1"

import pyvips  # noqa: E402
from PIL import Image, ImageChops, ImageDraw, ImageFilter, features  # noqa: E402

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
HUE, GAMMA, TOLERANCE = 30, 1.2, 24
# Reductions x2 to x8 of the 1024-px input (thumbnails are x4, previews of larger pictures more).
RESIZE_TO = (512, 341, 256, 204, 170, 128)
HUE_LUT = [(v + round(HUE * 256 / 360)) % 256 for v in range(256)]
GAMMA_LUT = [u8(255 * (v / 255) ** (1 / GAMMA)) for v in range(256)] * 3

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

    def hue():
        h, s_, v = im.convert("HSV").split()
        return Image.merge("HSV", (h.point(HUE_LUT), s_, v)).convert("RGB")

    def remove_background():
        # Near-white pixels connected to a corner become transparent (flood fill of a mask).
        mask = im.convert("L").point(lambda v: 255 if v >= 255 - TOLERANCE else 0)
        for xy in ((0, 0), (im.width - 1, 0), (0, im.height - 1), (im.width - 1, im.height - 1)):
            ImageDraw.floodfill(mask, xy, 128)
        out = im.copy()
        out.putalpha(mask.point(lambda v: 0 if v == 128 else 255))
        return out

    return {
        **{f"resize_lanczos3_1024_to_{to}":
           (lambda to=to: im.resize((to, im.height * to // im.width), Image.Resampling.LANCZOS))
           for to in RESIZE_TO},
        "gaussian_blur_sigma_2": lambda: im.filter(ImageFilter.GaussianBlur(radius=2)),
        "colour_adjust": lambda: im.point(BC_LUT).convert("RGB", PIL_SAT),
        "sharpen_sigma_1": lambda: im.filter(ImageFilter.UnsharpMask(radius=1, percent=100, threshold=0)),
        "rotate_17": lambda: im.rotate(-17, resample=Image.Resampling.BILINEAR, expand=True,
                                       fillcolor=(255, 255, 255)),
        "hue_30": hue,
        "gamma_1_2": lambda: im.point(GAMMA_LUT),
        "remove_background": remove_background,
        "crop_512": lambda: im.crop((256, 256, 768, 768)),
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

    def remove_background():
        mask = (im.colourspace("b-w") >= 255 - TOLERANCE).ifthenelse(255, 0).cast("uchar")
        for xy in ((0, 0), (im.width - 1, 0), (0, im.height - 1), (im.width - 1, im.height - 1)):
            mask = mask.draw_flood(128, *xy, equal=True)
        return im.bandjoin((mask == 128).ifthenelse(0, 255).cast("uchar")).copy_memory()

    def hue():
        lch = im.colourspace("lch")
        return (lch + [0, 0, HUE]).colourspace("srgb").cast("uchar").copy_memory()

    return {
        **{f"resize_lanczos3_1024_to_{to}":
           (lambda to=to: im.resize(to / im.width, vscale=(im.height * to // im.width) / im.height,
                                    kernel="lanczos3").copy_memory())
           for to in RESIZE_TO},
        "gaussian_blur_sigma_2": lambda: im.gaussblur(2.0).copy_memory(),
        "colour_adjust": colour,
        # Unsharp mask as ours: v + (v - gaussian(v)), clamped by the cast.
        "sharpen_sigma_1": lambda: (im * 2 - im.gaussblur(1.0)).cast("uchar").copy_memory(),
        "rotate_17": lambda: im.rotate(17, background=[255, 255, 255]).copy_memory(),
        "hue_30": hue,
        "gamma_1_2": lambda: im.gamma(exponent=1.2).copy_memory(),
        "remove_background": remove_background,
        "crop_512": lambda: im.crop(256, 256, 512, 512).copy_memory(),
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
        mode = {3: "RGB", 4: "RGBA"}[out.bands]
        return Image.frombytes(mode, (out.width, out.height), out.write_to_memory())
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


def rust_ms(timer: str, name: str, iterations: int):
    """The Rust median, measured now by the timing example (right before Pillow and pyvips)."""
    if not os.path.exists(timer):
        return None
    out = subprocess.run([timer, name, str(iterations)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def psnr(a: Image.Image, b: Image.Image) -> float:
    hist = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).histogram()
    mse = sum((i % 256) ** 2 * n for i, n in enumerate(hist)) / (a.width * a.height * 3)
    return float("inf") if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def load(path: str, lib: str):
    """The picture decoded into memory, RGB, as each library holds it."""
    if lib == "pillow":
        im = Image.open(path)
        im.load()
        return im if im.mode == "RGB" else im.convert("RGB")
    im = pyvips.Image.new_from_file(path, access="sequential")
    if im.bands < 3:
        im = im.colourspace("srgb")
    return im[0:3].cast("uchar").copy_memory()


# Operations of the 40-megapixel memory table: the Rust example's name, then the name of the
# same operation in pillow_ops / vips_ops (None: decoding alone, the floor).
MEMORY_OPS = [
    ("decode", None),
    ("resize_lanczos3_half", "resize_lanczos3_1024_to_512"),
    ("gaussian_blur_sigma_2", "gaussian_blur_sigma_2"),
    ("colour_adjust", "colour_adjust"),
    ("sharpen_sigma_1", "sharpen_sigma_1"),
    ("rotate_17", "rotate_17"),
    ("hue_30", "hue_30"),
    ("gamma_1_2", "gamma_1_2"),
    ("remove_background", "remove_background"),
    ("crop_512", "crop_512"),
    ("encode_png", "encode_png"),
    ("encode_webp_q80", "encode_webp_q80"),
    ("encode_jpeg_q80", "encode_jpeg_q80"),
]


def peak_mb(argv):
    """Maximum resident set of a child process running argv, in MB (from wait4's rusage), or
    None when it refused the work (exit code 3: beyond the API's limits)."""
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode == 3:
        return None
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({child.returncode})")
    return usage.ru_maxrss / 1024


def memory(big: str, rust_example: str) -> int:
    """Peak memory per operation on a 40-megapixel picture, each run in a process of its own."""
    im = Image.open(big)
    print(f"\npeak resident memory (MB) of one operation on {big} ({im.width}x{im.height}), "
          "a process each, decoding included:")
    print(f"  {'operation':<24}{'Rust':>9}{'Pillow':>9}{'pyvips':>9}")
    me = os.path.abspath(__file__)
    show = (lambda mb: f"{'refused':>9}" if mb is None else f"{mb:>9.0f}")
    for rust_name, py_name in MEMORY_OPS:
        r = peak_mb([rust_example, rust_name])
        op = py_name or "decode"
        p = peak_mb([sys.executable, me, "--one", op, "--lib", "pillow", "--input", big])
        v = peak_mb([sys.executable, me, "--one", op, "--lib", "vips", "--input", big])
        print(f"  {rust_name:<24}{show(r)}{show(p)}{show(v)}")
    return 0


def one(op: str, lib: str, path: str) -> int:
    """Runs one operation once (the child of --memory)."""
    im = load(path, lib)
    if op != "decode":
        (pillow_ops if lib == "pillow" else vips_ops)(im)[op]()
    return 0


def jpeg_check(rust_jpeg: str, pil: Image.Image, pillow_jpeg: bytes) -> bool:
    """Rust's JPEG at q80 beside libjpeg-turbo's (Pillow's): bytes and PSNR against the source."""
    with open(rust_jpeg, "rb") as f:
        rust = f.read()
    r_psnr, p_psnr = psnr(pil, to_pillow(rust)), psnr(pil, to_pillow(pillow_jpeg))
    size_ok = len(rust) <= 1.05 * len(pillow_jpeg)
    psnr_ok = r_psnr >= p_psnr - 0.01
    print(f"\nJPEG q80 4:2:0: Rust {len(rust)} bytes, {r_psnr:.2f} dB; libjpeg-turbo (Pillow) "
          f"{len(pillow_jpeg)} bytes, {p_psnr:.2f} dB: size {len(rust) / len(pillow_jpeg):.3f}x "
          f"{'ok' if size_ok else 'FAILED (more than 5 % larger)'}, PSNR "
          f"{'ok' if psnr_ok else 'FAILED (worse)'}")
    return size_ok and psnr_ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="1024x1024 RGB PNG")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--rust-timer", default="target/release/examples/transform_time",
                    help="the Rust timing example (shared/imaging/examples/transform_time.rs)")
    ap.add_argument("--rust-jpeg", default="target/bench/rust-q80.jpg",
                    help="the Rust bench's JPEG q80 of the input, to compare with Pillow's")
    ap.add_argument("--memory", metavar="BIG_PNG", help="also the 40-megapixel memory table")
    ap.add_argument("--rust-example", default="target/release/examples/transform_40mp")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--lib", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return one(args.one, args.lib, args.input)
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
        # An expanded rotation's canvas may differ by a pixel or two between libraries.
        slack = 2 if name.startswith("rotate") else 0
        good = (abs(pa.width - pb.width) <= slack and abs(pa.height - pb.height) <= slack
                and pa.size == want)
        if name == "resize_lanczos3_1024_to_512":
            good = good and pa.size == (pil.width // 2, pil.height // 2)
        ok &= good
        sizes = f"  bytes {len(a):>8} {len(b):>8}" if isinstance(a, bytes) else ""
        diff = f"{mean_diff(pa, pb):5.2f}" if pa.size == pb.size else "    -"
        print(f"  {name:<28} {pa.width}x{pa.height} {pb.width}x{pb.height}  "
              f"diff {diff}{sizes}  {'ok' if good else 'FAILED'}")
    if os.path.exists(args.rust_jpeg):
        ok &= jpeg_check(args.rust_jpeg, pil, p_ops["encode_jpeg_q80"]())

    print(f"\nmedian ms of {args.iterations} runs after {WARMUP} warm-up, single thread:")
    print(f"  {'operation':<28}{'Rust':>9}{'Pillow':>9}{'pyvips':>9}"
          f"{'Pillow/Rust':>13}{'pyvips/Rust':>13}")
    rows = []
    for name in p_ops:
        r = rust_ms(args.rust_timer, name, args.iterations)
        p = median_ms(p_ops[name], args.iterations)
        v = median_ms(v_ops[name], args.iterations)
        ratio = (lambda t: "-" if r is None else f"{t / r:.2f}x")
        print(f"  {name:<28}{'-' if r is None else f'{r:.2f}':>9}{p:>9.2f}{v:>9.2f}"
              f"{ratio(p):>13}{ratio(v):>13}")
        if r is not None:
            rows.append((name, r, p, v))
    if os.path.exists(args.rust_timer):
        print("\nresize quality: mean |x - Pillow's Lanczos3| per channel (lower is closer):")
        print(f"  {'operation':<28}{'Rust':>9}{'pyvips':>9}")
        for to in RESIZE_TO:
            name = f"resize_lanczos3_1024_to_{to}"
            out = f"{args.input}.{to}.png"
            subprocess.run([args.rust_timer, name, "1"], check=True, capture_output=True,
                           env={**os.environ, "RESIZE_OUT": out})
            ours = Image.open(out).convert("RGB")
            pil, vip = p_ops[name](), to_pillow(v_ops[name]())
            d_r, d_v = mean_diff(ours, pil), mean_diff(vip, pil)
            print(f"  {name:<28}{d_r:>9.3f}{d_v:>9.3f}  {'ok' if d_r <= d_v else 'WORSE'}")
            ok &= d_r <= d_v
    # The goals: every operation at least as fast as the faster of Pillow and pyvips; JPEG
    # within 1.2x of libjpeg-turbo.
    slow = [n for n, r, p, v in rows if min(p, v) / r < 1.0 and not n.startswith("encode_jpeg")]
    slow += [n for n, r, p, v in rows if n == "encode_jpeg_q80" and r > 1.2 * p]
    print(f"  goals: {'all met' if not slow else 'not met by ' + ', '.join(slow)}")
    before = rust_ms(args.rust_timer, "encode_jpeg_q80_jpeg_encoder", args.iterations)
    if before is not None:
        print(f"  (JPEG before, the jpeg-encoder crate: {before:.2f} ms, measured just now)")
    if args.memory:
        memory(args.memory, args.rust_example)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
