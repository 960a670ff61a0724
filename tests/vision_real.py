"""A test set of real photos with hand-counted ground truth, for the vision extra.

Every picture is a photograph, not a render: camera and phone photos from the repository's
corpus (tests/corpus, licences in its MANIFEST.tsv) and scikit-image's sample photos. Some
are real photos placed inside other real photos, to get what the corpus lacks at the
sizes that matter: a 640 px group photo laid native-size into a 12 MP photo gives faces of
25-38 px in a 12 MP picture, a poster laid into a 22 MP photo gives a banner whose letters
are 10-20 px high; crops of a portrait give a face that fills the frame or is cut by its
edge. Codes are the one thing no photo here holds: they are made with segno and laid into
photos at several sizes. Ground truth was counted by eye (what a person sees), not taken
from the detector: faces are boxes, text the strings a reader must find.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from safeshare.formats.reencode import register_heif
from tests.vision_set import ASTRO_FACE, CAMERA_FACE, Box, _qr

CORPUS = Path(__file__).parent / "corpus"
WEDDING_FACES = [(14, 232, 46, 284), (254, 195, 285, 238), (299, 208, 330, 248), (334, 216, 365, 260)]
SHOP_FACES = [(95, 66, 141, 137), (234, 116, 275, 167)]  # the child turned away is not a face
PORTRAIT_FACE = (64, 48, 132, 132)  # DudleyLeavittUtah.tiff
BOY_FACE = (498, 40, 561, 117)  # image00971.jpg
POSTER_FACE = (200, 9, 243, 68)  # no_exif.jpg
POSTER_TEXT = ["SABINE BOSS", "GOALIE", "PEDRO LENZ", "NACH DEM ROMAN VON"]
AD_TEXT = ["Qualität zahlt sich", "für Sie aus"]
MAGAZINE_TEXT = ["DUGONG", "MAMMALS", "RANGE: Warm coastal waters", "tusk-like incisors"]
NOTHING = [
    "jpeg/exif-samples__DSCN0010.jpg",
    "jpeg/exif-samples__DSCN0021.jpg",
    "jpeg/exif-samples__kodak-dc240.jpg",
    "jpeg/exif-samples__sanyo-vpcg250.jpg",
    "jpeg/exif-samples__jolla.jpg",
    "jpeg/exif-samples__iphone_hdr_YES.jpg",
    "heic/exif-samples__IMG_5195.HEIC",
    "heic/exif-samples__HMD_Nokia_8.3_5G_hdr.heif",
    "heic/ente-motion_photos__motionphoto.heic",
]


@dataclass
class Photo:
    name: str
    category: str  # "close-up", "frame edge", "group", "small faces", "text", "codes", "nothing"
    image: Image.Image
    faces: list[Box] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    thorough: bool = False  # looked at as redaction does (small faces are promised found)


def corpus(name: str) -> Image.Image:
    register_heif()
    with Image.open(CORPUS / name) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def _skimage(name: str) -> Image.Image:
    from skimage import data

    array = getattr(data, name)()
    if array.ndim == 2:
        array = np.stack([array] * 3, -1)
    return Image.fromarray(array[..., :3].astype(np.uint8))


def _filling(
    photo: Image.Image, face: Box, share: float, size: tuple[int, int] = (3000, 4000)
) -> tuple[Image.Image, Box]:
    """A crop of `photo` in which the face is `share` of the height, enlarged to `size`
    (a phone selfie held close)."""
    fx, fy, fh = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2, face[3] - face[1]
    h = fh / share
    w = h * size[0] / size[1]
    crop = (fx - w / 2, fy - h / 2, fx + w / 2, fy + h / 2)
    scale = size[1] / h
    box = (
        (face[0] - crop[0]) * scale,
        (face[1] - crop[1]) * scale,
        (face[2] - crop[0]) * scale,
        (face[3] - crop[1]) * scale,
    )
    return photo.crop(tuple(round(v) for v in crop)).resize(size, Image.Resampling.BICUBIC), box


def _cut(photo: Image.Image, face: Box, cut: float, side: int = 3000) -> tuple[Image.Image, Box]:
    """A square crop whose left edge cuts off `cut` of the face's width, enlarged."""
    x0 = face[0] + (face[2] - face[0]) * cut
    span = 1.6 * (face[3] - face[1]) * 1.5
    top = max(0.0, face[1] - (face[3] - face[1]) * 0.6)
    scale = side / span
    box = (0.0, (face[1] - top) * scale, (face[2] - x0) * scale, (face[3] - top) * scale)
    crop = photo.crop((round(x0), round(top), round(x0 + span), round(top + span)))
    return crop.resize((side, side), Image.Resampling.BICUBIC), box


def _inside(
    background: Image.Image, size: tuple[int, int], photo: Image.Image, at: tuple[int, int]
) -> Image.Image:
    """`photo` laid native-size at `at` into `background` stretched to cover `size`."""
    scale = max(size[0] / background.width, size[1] / background.height)
    big = background.resize(
        (round(background.width * scale), round(background.height * scale)), Image.Resampling.BICUBIC
    )
    canvas = big.crop((0, 0, size[0], size[1]))
    canvas.paste(photo, at)
    return canvas


def _moved(boxes: list[Box], at: tuple[int, int]) -> list[Box]:
    return [(b[0] + at[0], b[1] + at[1], b[2] + at[0], b[3] + at[1]) for b in boxes]


def photos() -> list[Photo]:
    astro, camera = _skimage("astronaut"), _skimage("camera")
    out = []
    for share in (0.5, 0.75, 0.95):
        image, box = _filling(astro, ASTRO_FACE, share)
        out.append(Photo(f"selfie, face {share:.0%} of the height", "close-up", image, [box]))
    image, box = _filling(camera, CAMERA_FACE, 0.8)
    out.append(Photo("grey portrait, face 80% of the height", "close-up", image, [box]))
    out.append(
        Photo(
            "old portrait", "close-up", corpus("tiff/exif-samples__DudleyLeavittUtah.tiff"), [PORTRAIT_FACE]
        )
    )
    out.append(Photo("astronaut", "close-up", astro, [ASTRO_FACE]))
    for cut in (0.3, 0.5):
        image, box = _cut(astro, ASTRO_FACE, cut)
        out.append(Photo(f"face {cut:.0%} cut by the edge", "frame edge", image, [box]))
    image, box = _cut(camera, CAMERA_FACE, 0.4)
    out.append(Photo("grey face 40% cut by the edge", "frame edge", image, [box]))

    wedding, shop = corpus("jpeg/exif-samples__canon-ixus.jpg"), corpus("jpeg/exif-samples__sony-d700.jpg")
    out.append(Photo("wedding, four faces", "group", wedding, WEDDING_FACES))
    out.append(Photo("shop counter, two faces", "group", shop, SHOP_FACES))
    out.append(
        Photo("advert, a boy", "group", corpus("jpeg/exif-samples__image00971.jpg"), [BOY_FACE], AD_TEXT)
    )
    kitchen = corpus("heic/exif-samples__iphone_13_pro_max.HEIC")
    for at in ((1700, 1200), (3300, 2500)):
        image = _inside(kitchen, (4000, 3000), wedding, at)
        out.append(
            Photo(
                f"wedding inside a 12 MP photo at {at}",
                "small faces",
                image,
                _moved(WEDDING_FACES, at),
                thorough=True,
            )
        )
    image = _inside(kitchen, (4000, 3000), shop, (200, 300))
    out.append(
        Photo(
            "shop inside a 12 MP photo", "small faces", image, _moved(SHOP_FACES, (200, 300)), thorough=True
        )
    )

    poster = corpus("jpeg/exif-samples__no_exif.jpg")
    out.append(Photo("film poster", "text", poster, [POSTER_FACE], POSTER_TEXT))
    out.append(Photo("magazines, 12 MP", "text", corpus("heic/libmphoto__still.heic"), texts=MAGAZINE_TEXT))
    out.append(
        Photo(
            "trail camera stamp",
            "text",
            corpus("jpeg/exif-samples__Reconyx_HC500_Hyperfire.jpg"),
            texts=["2020-03-16", "RECONYX"],
        )
    )
    street = corpus("jpeg/exif-samples__HMD_Nokia_8.3_5G.jpg")
    at = (3900, 1500)
    image = _inside(street, (5760, 3840), poster, at)
    out.append(Photo("poster in a 22 MP photo", "text", image, _moved([POSTER_FACE], at), POSTER_TEXT[:3]))
    at = (600, 2800)
    image = _inside(street, (5760, 3840), corpus("jpeg/exif-samples__image00971.jpg"), at)
    out.append(Photo("banner in a 22 MP photo", "text", image, _moved([BOY_FACE], at), AD_TEXT))

    for module, place in ((3, (400, 500)), (6, (2600, 300)), (14, (1200, 1400)), (60, (100, 100))):
        content = f"https://example.org/t/{module}x"
        image = kitchen.resize((3000, 4000), Image.Resampling.BICUBIC)
        code = _qr(content, module)
        image.paste(code, place)
        out.append(Photo(f"QR code, {module} px modules, 12 MP", "codes", image, codes=[content]))
    for name in NOTHING:
        out.append(Photo(Path(name).stem.split("__")[-1], "nothing", corpus(name)))
    for name in ("coffee", "chelsea", "rocket"):
        out.append(Photo(name, "nothing", _skimage(name)))
    return out
