"""A small test set with ground truth for the vision extra, built from pictures shipped in
packages: scikit-image's sample photos (two with a human face) and its LFW face crops,
text rendered with Pillow's bundled font, codes from segno and zxing-cpp's writer.

Faces are boxes; text and codes are the strings that must be read. Pictures with nothing
to find (the negatives) count every detection as a false positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from safeshare.batch import clean_one
from safeshare.config import VisionConfig
from safeshare.pipeline import Pipeline, Result, Settings
from safeshare.vision.report import Visible
from safeshare.vision.step import VisionStep

ASTRO_FACE = (180, 60, 270, 177)  # in skimage's 512x512 astronaut
CAMERA_FACE = (198, 115, 257, 196)  # in skimage's 512x512 camera man

Box = tuple[float, float, float, float]


@dataclass
class Sample:
    name: str
    image: Image.Image
    faces: list[Box] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    negative: bool = False  # nothing to find at all


def _rgb(array: np.ndarray) -> Image.Image:
    if array.ndim == 2:
        array = np.stack([array] * 3, -1)
    return Image.fromarray(array[..., :3].astype(np.uint8))


def _cover(image: Image.Image, size: tuple[int, int] = (4000, 3000)) -> Image.Image:
    scale = max(size[0] / image.width, size[1] / image.height)
    big = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
    left, top = (big.width - size[0]) // 2, (big.height - size[1]) // 2
    return big.crop((left, top, left + size[0], top + size[1]))


def _paste(canvas: Image.Image, photo: Image.Image, face: Box, x: int, y: int, width: int) -> Box:
    scale = width / photo.width
    canvas.paste(photo.resize((width, round(photo.height * scale)), Image.Resampling.BICUBIC), (x, y))
    return (x + face[0] * scale, y + face[1] * scale, x + face[2] * scale, y + face[3] * scale)


def _card(
    canvas: Image.Image,
    lines: list[str],
    xy: tuple[int, int],
    size: int,
    colours: tuple[tuple[int, int, int], tuple[int, int, int]] = ((245, 245, 240), (20, 20, 30)),
) -> None:
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(canvas)
    width = max(int(draw.textlength(line, font=font)) for line in lines) + 2 * size
    height = len(lines) * int(size * 1.6) + size
    draw.rectangle((xy[0], xy[1], xy[0] + width, xy[1] + height), fill=colours[0])
    for i, line in enumerate(lines):
        draw.text((xy[0] + size, xy[1] + size // 2 + i * int(size * 1.6)), line, font=font, fill=colours[1])


def _qr(content: str, scale: int) -> Image.Image:
    import segno

    matrix = np.pad(np.array([list(row) for row in segno.make(content, error="m").matrix], dtype=np.uint8), 4)
    return _rgb(((1 - matrix) * 255).astype(np.uint8).repeat(scale, 0).repeat(scale, 1))


def _code(content: str, kind: str, scale: int) -> Image.Image:
    import zxingcpp

    code = zxingcpp.create_barcode(content, getattr(zxingcpp.BarcodeFormat, kind))
    return _rgb(np.asarray(code.to_image(scale=scale, add_quiet_zones=True)))


def samples() -> list[Sample]:
    from skimage import data

    astro, camera = _rgb(data.astronaut()), _rgb(data.camera())
    out = [Sample("astronaut", astro, [ASTRO_FACE]), Sample("camera", camera, [CAMERA_FACE])]

    group = _cover(_rgb(data.stereo_motorcycle()[0]))
    faces = [
        _paste(group, astro, ASTRO_FACE, 100, 200, 1400),
        _paste(group, astro, ASTRO_FACE, 1700, 150, 700),
        _paste(group, camera, CAMERA_FACE, 2700, 1500, 900),
        _paste(group, astro, ASTRO_FACE, 2600, 300, 360),
    ]
    out.append(Sample("group of four, 12 MP", group, faces))

    badge = _cover(_rgb(data.coffee()))
    _card(badge, ["ID 4821-7730", "Password hunter2"], (300, 400), 110)
    badge.paste(_qr("https://example.org/pass/4821", 14), (2600, 1200))
    out.append(
        Sample(
            "badge, 12 MP",
            badge,
            texts=["ID 4821-7730", "Password hunter2"],
            codes=["https://example.org/pass/4821"],
        )
    )

    boarding = _cover(_rgb(data.rocket()))
    _card(boarding, ["BOARDING PASS", "Flight LH 2045"], (200, 1800), 120)
    pdf417 = "M1DOE/JANE EABC123 FRAJFKLH 0400 123Y012A0001 100"
    boarding.paste(_code(pdf417, "PDF417", 6), (2300, 300))
    out.append(
        Sample("boarding pass, 12 MP", boarding, texts=["BOARDING PASS", "Flight LH 2045"], codes=[pdf417])
    )

    screen = _cover(_rgb(data.brick()))
    _card(
        screen,
        ["user jane.doe@example.org", "Password Tr0ub4dor"],
        (600, 900),
        90,
        ((25, 30, 40), (220, 230, 240)),
    )
    out.append(Sample("dark screen, 12 MP", screen, texts=["jane.doe@example.org", "Password Tr0ub4dor"]))

    street = _cover(_rgb(data.stereo_motorcycle()[1]))
    _card(street, ["B XY 4821"], (1800, 2300), 70, ((240, 200, 40), (10, 10, 10)))
    out.append(Sample("number plate, 12 MP", street, texts=["B XY 4821"]))

    codes = _cover(_rgb(data.chelsea()))
    codes.paste(_code("4006381333931", "EAN13", 8), (300, 300))
    codes.paste(_code("SERIAL 7731", "DataMatrix", 20), (2700, 300))
    codes.paste(
        _qr("WIFI:T:WPA;S:home;P:secret;;", 12).rotate(30, expand=True, fillcolor=(255, 255, 255)),
        (1400, 1500),
    )
    out.append(
        Sample(
            "three codes, 12 MP",
            codes,
            codes=["4006381333931", "SERIAL 7731", "WIFI:T:WPA;S:home;P:secret;;"],
        )
    )

    lfw = np.load(Path(data.__file__).parent / "lfw_subset.npy")
    for label, crops in (("faces", lfw[:100]), ("no faces", lfw[100:])):
        grid = Image.new("RGB", (1000, 1000), (128, 128, 128))
        boxes: list[Box] = []
        for i, crop in enumerate(crops):
            x, y = 20 + (i % 10) * 98, 20 + (i // 10) * 98
            grid.paste(_rgb((crop * 255).astype(np.uint8)).resize((64, 64), Image.Resampling.BICUBIC), (x, y))
            boxes.append((x, y, x + 64, y + 64))
        out.append(
            Sample(f"LFW {label}, 64 px", grid, boxes if label == "faces" else [], negative=label != "faces")
        )

    for name in ("coffee", "chelsea", "hubble_deep_field", "brick", "retina"):
        out.append(Sample(name, _rgb(getattr(data, name)()), negative=True))
    return out


# Running the step as the daemon and `clean` do: each call with its own worker, stopped after.
def looked_at(path: Path) -> Visible | None:
    """What the vision step sees in `path`."""
    step = VisionStep(VisionConfig(), 200_000_000)
    try:
        return step.analyze(path)
    finally:
        step.close()


def cleaned_with(config: VisionConfig, path: Path, out: Path) -> Result:
    """`path` cleaned into `out` by the pipeline with a vision step of `config` (redaction)."""
    step = VisionStep(config, 200_000_000)
    try:
        return clean_one(Pipeline(Settings(), step), path, out)
    finally:
        step.close()
