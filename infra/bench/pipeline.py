#!/usr/bin/env python3
"""Same image pipeline in Pillow and in pyvips (libvips), single-threaded.

decode PNG (from bytes in memory) -> white to alpha (border-connected near-white
becomes transparent, soft 1-pixel edge) -> Lanczos3 resize to 1/4 -> PNG encode
(zlib level 1). Prints median timings, ratios against the Rust criterion bench
when its estimates.json is given, and sanity checks that both outputs agree.

    python infra/bench/pipeline.py --input target/bench/input-1024.png [--iterations 30] \
        [--rust-json target/criterion/pipeline/rust/new/estimates.json]
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
from PIL import Image, ImageChops, ImageDraw, ImageFilter, features  # noqa: E402

TOL = 24  # near-white: max(255-r, 255-g, 255-b) <= TOL
ZLIB_LEVEL = 1  # same zlib level for every encoder (1 = fastest)
WARMUP = 3
# alpha for edge pixels: min(255, round(255*d/(2*TOL))). Rounds half up, like
# Rust's f32::round for positive values (Python's round() is half-to-even).
SOFT = [min(255, int(255 * d / (2 * TOL) + 0.5)) for d in range(256)]
NEAR_LUT = [255 if d <= TOL else 0 for d in range(256)]
FILL = 128  # flood value; the near-white mask only holds 0 and 255
FILLED_LUT = [255 if v == FILL else 0 for v in range(256)]
# 4-neighbour dilation of a 0/255 mask: the sum saturates at 255.
CROSS = ImageFilter.Kernel((3, 3), [0, 1, 0, 1, 1, 1, 0, 1, 0], scale=1)
CROSS_MASK = [[128, 255, 128], [255, 255, 255], [128, 255, 128]]  # 128 = don't care

pyvips.cache_set_max(0)  # no operation cache: every run really recomputes
if hasattr(pyvips, "concurrency_set"):
    pyvips.concurrency_set(1)
VIPS_SOFT_LUT = pyvips.Image.new_from_list([SOFT]).cast("uchar")  # 256x1 LUT


def pillow_pipeline(data: bytes) -> bytes:
    rgb = Image.open(io.BytesIO(data))
    if rgb.mode != "RGB":
        rgb = rgb.convert("RGB")  # any input alpha is replaced below
    rgba = pillow_white_to_alpha(rgb)
    # Pillow premultiplies RGBA itself (RGBA -> RGBa, 8 bit) before resizing.
    small = rgba.resize((rgba.width // 4, rgba.height // 4), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "PNG", compress_level=ZLIB_LEVEL)  # default row filtering
    return buf.getvalue()


def pillow_white_to_alpha(rgb: Image.Image) -> Image.Image:
    w, h = rgb.size
    r, g, b = ImageChops.invert(rgb).split()
    d = ImageChops.lighter(ImageChops.lighter(r, g), b)  # max(255-r, 255-g, 255-b)

    # Near-white mask inside a 1-pixel near-white frame: one fill from (0,0)
    # reaches every near-white pixel 4-connected to the border.
    # NB: ImageDraw.floodfill is Pillow's only flood fill and is written in
    # Python (per-pixel loop); it dominates Pillow's time.
    padded = Image.new("L", (w + 2, h + 2), 255)
    padded.paste(d.point(NEAR_LUT), (1, 1))
    ImageDraw.floodfill(padded, (0, 0), FILL)
    bg = padded.point(FILLED_LUT)  # 255 = background
    # Clear the frame so it doesn't count as a background neighbour of the
    # border pixels; the padding also keeps Kernel's unfiltered edge rows out.
    ImageDraw.Draw(bg).rectangle((0, 0, w + 1, h + 1), outline=0)
    grown = bg.filter(CROSS)
    box = (1, 1, w + 1, h + 1)
    bg, grown = bg.crop(box), grown.crop(box)
    edge = ImageChops.subtract(grown, bg)  # not background, 4-neighbour is

    alpha = Image.new("L", (w, h), 255)
    alpha.paste(d.point(SOFT), mask=edge)
    alpha.paste(0, mask=bg)
    rgb.putalpha(alpha)  # in place: rgb is our own decoded image
    return rgb


def vips_pipeline(data: bytes) -> bytes:
    img = pyvips.Image.new_from_buffer(data, "")
    if img.bands < 3:
        img = img.colourspace("srgb")
    rgba = vips_white_to_alpha(img[0:3])  # any input alpha is replaced
    # vips resize does not premultiply: do it explicitly (float, as
    # vips_thumbnail does), and round back since cast truncates.
    small = rgba.premultiply().resize(0.25, kernel="lanczos3")
    small = small.unpremultiply().rint().cast("uchar")
    return small.write_to_buffer(".png", compression=ZLIB_LEVEL)


def vips_white_to_alpha(rgb: pyvips.Image) -> pyvips.Image:
    w, h = rgb.width, rgb.height
    inv = rgb.invert()  # uchar 255 - x
    d = inv[0].maxpair(inv[1]).maxpair(inv[2])

    # Same frame trick as Pillow; draw_flood is 4-connected (checked).
    padded = (d <= TOL).embed(1, 1, w + 2, h + 2, extend="white")
    filled = padded.draw_flood(FILL, 0, 0, equal=True)
    bg = (filled == FILL).crop(1, 1, w, h)
    # morph pads by copying edge pixels, so outside-the-image never counts.
    edge = bg.morph(CROSS_MASK, "dilate") ^ bg  # dilation minus bg itself

    alpha = edge.ifthenelse(d.maplut(VIPS_SOFT_LUT), 255)
    alpha = bg.ifthenelse(0, alpha)
    return rgb.bandjoin(alpha)


def make_input(path: str) -> None:
    """Standalone test input: white with shapes, one ring enclosing white."""
    im = Image.new("RGB", (1024, 1024), "white")
    dr = ImageDraw.Draw(im)
    dr.rectangle((80, 100, 400, 380), fill=(200, 30, 30))
    dr.ellipse((520, 90, 940, 510), fill=(20, 90, 200))
    dr.ellipse((600, 170, 860, 430), fill="white")  # enclosed hole: stays opaque
    dr.polygon([(120, 900), (300, 560), (480, 900)], fill=(30, 160, 60))
    dr.rectangle((600, 620, 900, 900), fill=(215, 215, 215))  # light: soft edge
    dr.rectangle((0, 440, 1023, 470), fill=(240, 240, 240))  # near-white band
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    im.save(path)


def median_ms(fn, data: bytes, iterations: int) -> float:
    for _ in range(WARMUP):
        fn(data)
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def check(name: str, png: bytes, corner_white: bool) -> Image.Image:
    """Decode an output with Pillow (neutral decoder) and print sanity facts."""
    out = Image.open(io.BytesIO(png))
    out.load()
    ok = out.size == (256, 256) and out.mode == "RGBA"
    clear = out.getchannel("A").histogram()[0] / (256 * 256) if ok else float("nan")
    if ok and corner_white:
        ok = out.getpixel((0, 0))[3] == 0
    print(f"  {name:<8} {out.width}x{out.height} {out.mode:<4} {len(png):>7} B  "
          f"transparent {clear:7.2%}  {'ok' if ok else 'FAILED'}")
    return out if ok else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="1024x1024 RGB(A) PNG")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--rust-json", help="criterion estimates.json of the Rust bench")
    args = ap.parse_args()

    standalone = not os.path.exists(args.input)
    if standalone:
        make_input(args.input)
    with open(args.input, "rb") as f:
        data = f.read()
    src = Image.open(io.BytesIO(data))
    corner_white = max(255 - v for v in src.convert("RGB").getpixel((0, 0))) <= TOL

    print(f"Python {sys.version.split()[0]}, Pillow {Image.__version__} "
          f"(zlib {features.version('zlib')}), pyvips {pyvips.__version__}, "
          f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}")
    conc = pyvips.concurrency_get() if hasattr(pyvips, "concurrency_get") else "?"
    print(f"libvips concurrency {conc}, cache off; zlib level {ZLIB_LEVEL}; TOL {TOL}")
    print(f"input {args.input} {src.size[0]}x{src.size[1]} {src.mode}"
          + ("  [STANDALONE: generated by this script, not the Rust bench's input]"
             if standalone else ""))

    print("checks (outputs decoded with Pillow):")
    outs = [check(n, fn(data), corner_white)
            for n, fn in (("Pillow", pillow_pipeline), ("pyvips", vips_pipeline))]
    if None not in outs:
        diff = ImageChops.difference(outs[0].getchannel("A"), outs[1].getchannel("A"))
        hist = diff.histogram()
        mean = sum(i * n for i, n in enumerate(hist)) / (256 * 256)
        print(f"  alpha |Pillow - pyvips|: mean {mean:.2f}, max {diff.getextrema()[1]}")

    rows = [("Pillow", median_ms(pillow_pipeline, data, args.iterations)),
            ("pyvips", median_ms(vips_pipeline, data, args.iterations))]
    rust_ms = None
    if args.rust_json and os.path.exists(args.rust_json):
        with open(args.rust_json) as f:
            rust_ms = json.load(f)["median"]["point_estimate"] / 1e6  # ns -> ms
        rows.insert(0, ("Rust", rust_ms))
    elif args.rust_json:
        print(f"(no Rust estimates at {args.rust_json}; Rust left out)")

    print(f"\nmedian of {args.iterations} runs after {WARMUP} warm-up, single thread:")
    print(f"  {'implementation':<15}{'median ms':>11}  vs Rust")
    for name, ms in rows:
        if rust_ms is None or name == "Rust":
            ratio = "-"
        elif ms >= rust_ms:
            ratio = f"{name} {ms / rust_ms:.1f}x slower than Rust"
        else:
            ratio = f"{name} {rust_ms / ms:.1f}x faster than Rust"
        print(f"  {name:<15}{ms:>11.2f}  {ratio}")
    return 0 if None not in outs else 1


if __name__ == "__main__":
    sys.exit(main())
