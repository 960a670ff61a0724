"""Synthetic test images with a secret planted in every place of the leak-class table.

Every secret is a unique ASCII marker; a clean output must contain none of them, in any
encoding, anywhere in its bytes. Real codecs (Pillow, pillow-heif) write the pictures;
the metadata is spliced in the way cameras, phones and editors write it.
"""

from __future__ import annotations

import io
import struct
import zlib

import piexif
from PIL import Image, ImageCms, PngImagePlugin

SERIAL = "SECRETSERIAL4711"
OWNER = "Jane Secretowner"
ARTIST = "SecretArtist Name"
CAMERA = "SecretCam 9000"
SOFTWARE = "SecretSoft 1.2"
WHEN = "2021:07:04 12:34:56"
CITY = "Secretville"
COMMENT = "SECRETCOMMENT"
PROMPT = "SECRETPROMPT a portrait of my neighbour"
URL = "https://secret.example/download/4711"
TRAILER = b"SECRETTRAILER"
LAT, LON = (48, 51, 30), (2, 17, 40)  # 48.8583 N, 2.2944 E

SECRETS = [SERIAL, OWNER, ARTIST, CAMERA, SOFTWARE, WHEN, CITY, COMMENT, PROMPT, "SECRET"]


def secret_bytes() -> list[bytes]:
    """Every secret as ASCII and as UTF-16 (Windows XP tags), for grepping outputs."""
    out = []
    for s in SECRETS:
        out += [s.encode(), s.encode("utf-16-le"), s.encode("utf-16-be")]
    return out


def picture(size: tuple[int, int] = (96, 64), mode: str = "RGB") -> Image.Image:
    """An asymmetric gradient, so that every rotation and mirror looks different."""
    w, h = size
    image = Image.new("RGB", size)
    image.putdata(
        [((x * 255) // w, (y * 255) // h, ((x + 2 * y) * 3) % 256) for y in range(h) for x in range(w)]
    )
    image.paste((255, 0, 0), (2, 2, w // 4, h // 5))
    if mode == "RGBA":
        image = image.convert("RGBA")
        image.putalpha(Image.linear_gradient("L").resize(size))
    elif mode != "RGB":
        image = image.convert(mode)
    return image


def srgb_icc() -> bytes:
    """An sRGB profile that also names a display and hides a serial in a private tag, as
    calibrated display profiles do."""
    profile: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    count = struct.unpack_from(">I", profile, 128)[0]
    tags = [struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count)]

    def text_tag(text: str) -> bytes:
        raw = text.encode() + b"\0"
        return b"desc\0\0\0\0" + struct.pack(">I", len(raw)) + raw + bytes(79)

    extra = [
        (b"dmnd", text_tag("SecretMaker Displays")),
        (b"dmdd", text_tag(CAMERA)),
        (b"zSec", b"zSec\0\0\0\0" + SERIAL.encode()),
    ]
    table_end = 132 + 12 * (count + len(extra))
    blocks, entries = bytearray(), []
    for sig, off, size in tags:
        entries.append((sig, table_end + len(blocks), size))
        blocks += profile[off : off + size] + bytes(-size % 4)
    for sig, block in extra:
        entries.append((sig, table_end + len(blocks), len(block)))
        blocks += block + bytes(-len(block) % 4)
    header = bytearray(profile[:128])
    struct.pack_into(">I", header, 0, table_end + len(blocks))
    table = struct.pack(">I", len(entries)) + b"".join(struct.pack(">4sII", *e) for e in entries)
    return bytes(header) + table + bytes(blocks)


def _rational(value: int) -> tuple[int, int]:
    return (value, 1)


def full_exif(orientation: int = 1, thumbnail: bool = True) -> bytes:
    """EXIF with GPS, capture times, device, serials, owner, software and a thumbnail."""
    zeroth = {
        piexif.ImageIFD.Make: "SecretMaker",
        piexif.ImageIFD.Model: CAMERA,
        piexif.ImageIFD.Software: SOFTWARE,
        piexif.ImageIFD.DateTime: WHEN,
        piexif.ImageIFD.Artist: ARTIST,
        piexif.ImageIFD.Copyright: OWNER,
        piexif.ImageIFD.ImageDescription: COMMENT,
        piexif.ImageIFD.HostComputer: CAMERA,
        piexif.ImageIFD.XPAuthor: OWNER.encode("utf-16-le") + b"\0\0",
        piexif.ImageIFD.Orientation: orientation,
    }
    exif_ifd = {
        piexif.ExifIFD.DateTimeOriginal: WHEN,
        piexif.ExifIFD.DateTimeDigitized: WHEN,
        piexif.ExifIFD.OffsetTimeOriginal: "+02:00",
        piexif.ExifIFD.BodySerialNumber: SERIAL,
        piexif.ExifIFD.LensSerialNumber: SERIAL,
        piexif.ExifIFD.ImageUniqueID: SERIAL,
        piexif.ExifIFD.CameraOwnerName: OWNER,
        piexif.ExifIFD.LensModel: CAMERA,
        piexif.ExifIFD.MakerNote: b"SecretMaker\0" + SERIAL.encode() * 4,
        piexif.ExifIFD.UserComment: b"ASCII\0\0\0" + COMMENT.encode(),
        piexif.ExifIFD.ExposureTime: (1, 250),
        piexif.ExifIFD.ISOSpeedRatings: 100,
    }
    gps = {
        piexif.GPSIFD.GPSLatitudeRef: "N",
        piexif.GPSIFD.GPSLatitude: tuple(_rational(v) for v in LAT),
        piexif.GPSIFD.GPSLongitudeRef: "E",
        piexif.GPSIFD.GPSLongitude: tuple(_rational(v) for v in LON),
        piexif.GPSIFD.GPSAltitude: (35, 1),
        piexif.GPSIFD.GPSDateStamp: "2021:07:04",
    }
    data: dict[str, object] = {"0th": zeroth, "Exif": exif_ifd, "GPS": gps}
    if thumbnail:
        thumb = io.BytesIO()
        picture((32, 24)).save(thumb, "JPEG", comment=COMMENT.encode())
        data["1st"] = {
            piexif.ImageIFD.JPEGInterchangeFormat: 0,
            piexif.ImageIFD.JPEGInterchangeFormatLength: 0,
        }
        data["thumbnail"] = thumb.getvalue()
    blob: bytes = piexif.dump(data)
    return blob


def xmp_packet(orientation: int | None = None) -> bytes:
    orient = f"<tiff:Orientation>{orientation}</tiff:Orientation>" if orientation else ""
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
 xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
 xmlns:aux="http://ns.adobe.com/exif/1.0/aux/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
 exif:GPSLatitude="48,51.5N" exif:GPSLongitude="2,17.6667E" photoshop:City="{CITY}"
 xmp:CreatorTool="{SOFTWARE}" xmp:CreateDate="2021-07-04T12:34:56" aux:SerialNumber="{SERIAL}">
<dc:creator><rdf:Seq><rdf:li>{ARTIST}</rdf:li></rdf:Seq></dc:creator>
<xmpMM:History><rdf:Seq><rdf:li>{SOFTWARE} saved</rdf:li></rdf:Seq></xmpMM:History>{orient}
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>""".encode()


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def photoshop_irb() -> bytes:
    """APP13 body: a Photoshop IRB holding IPTC city, by-line and caption."""

    def dataset(number: int, text: str) -> bytes:
        raw = text.encode()
        return b"\x1c\x02" + bytes([number]) + struct.pack(">H", len(raw)) + raw

    iptc = dataset(90, CITY) + dataset(80, ARTIST) + dataset(120, COMMENT)
    resource = b"8BIM\x04\x04\0\0" + struct.pack(">I", len(iptc)) + iptc + (b"\0" if len(iptc) & 1 else b"")
    return b"Photoshop 3.0\0" + resource


def fake_mp4() -> bytes:
    return b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom" + b"\0\0\0\x10mdat" + TRAILER + b"\0" * 4


def jpeg(
    orientation: int = 1,
    progressive: bool = False,
    size: tuple[int, int] = (96, 64),
    mode: str = "RGB",
    extras: bool = True,
) -> bytes:
    """A JPEG carrying every leak class: EXIF, XMP, IPTC, comment, C2PA, unknown APPn,
    FlashPix, an MPF-style secondary image and a motion-photo video after EOI."""
    out = io.BytesIO()
    picture(size, mode).save(
        out,
        "JPEG",
        quality=90,
        progressive=progressive,
        icc_profile=srgb_icc(),
        exif=full_exif(orientation),
        comment=COMMENT.encode(),
    )
    data = out.getvalue()
    if not extras:
        return data
    segments = (
        _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + xmp_packet())
        + _segment(0xED, photoshop_irb())
        + _segment(0xEB, b"JP\0\x01\0\0\0\x01\0\0\0\x10jumbc2pa" + SERIAL.encode())
        + _segment(0xE5, b"SecretVendor\0" + SERIAL.encode())
        + _segment(0xE2, b"FPXR\0\0" + COMMENT.encode())
        + _segment(0xE2, b"MPF\0" + b"II*\0\x08\0\0\0\0\0\0\0\0\0")
    )
    secondary = io.BytesIO()
    picture((40, 30)).save(secondary, "JPEG", comment=COMMENT.encode())
    return data[:2] + segments + data[2:] + secondary.getvalue() + fake_mp4()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _itxt(key: str, text: str, compressed: bool = False) -> bytes:
    raw = zlib.compress(text.encode()) if compressed else text.encode()
    return key.encode("latin-1") + b"\0" + bytes([int(compressed), 0]) + b"\0\0" + raw


def png_leaks(orientation: int = 1) -> list[bytes]:
    """Chunks that carry every leak class, to be spliced in before IEND."""
    exif = full_exif(orientation)[6:]
    raw_profile = "\nexif\n" + f"{len(exif):8d}\n" + exif.hex()
    return [
        png_chunk(b"tEXt", b"Author\0" + OWNER.encode()),
        png_chunk(b"tEXt", b"parameters\0" + PROMPT.encode()),
        png_chunk(b"zTXt", b"Software\0\0" + zlib.compress(SOFTWARE.encode())),
        png_chunk(b"iTXt", _itxt("XML:com.adobe.xmp", xmp_packet().decode())),
        png_chunk(b"iTXt", _itxt("Comment", COMMENT, compressed=True)),
        png_chunk(b"zTXt", b"Raw profile type exif\0\0" + zlib.compress(raw_profile.encode())),
        png_chunk(b"tIME", struct.pack(">HBBBBB", 2021, 7, 4, 12, 34, 56)),
        png_chunk(b"prVt", SERIAL.encode()),
        png_chunk(b"caBX", b"jumbc2pa" + SERIAL.encode()),
        png_chunk(b"eXIf", exif),
    ]


def splice_png(data: bytes, chunks: list[bytes], trailer: bool = True) -> bytes:
    """Put `chunks` after IHDR and before IEND (both places real tools use), plus a trailer."""
    ihdr_end = 8 + 12 + 13
    iend = data.rindex(b"IEND") - 4
    early, late = chunks[: len(chunks) // 2], chunks[len(chunks) // 2 :]
    body = data[:ihdr_end] + b"".join(early) + data[ihdr_end:iend] + b"".join(late) + data[iend:]
    return body + (fake_mp4() if trailer else b"")


def png(mode: str = "RGB", orientation: int = 1, size: tuple[int, int] = (96, 64)) -> bytes:
    out = io.BytesIO()
    image = picture(size, "RGB")
    if mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        image.info["transparency"] = 3
    elif mode != "RGB":
        image = image.convert(mode) if mode != "RGBA" else picture(size, "RGBA")
    info = PngImagePlugin.PngInfo()
    image.save(out, "PNG", pnginfo=info, icc_profile=srgb_icc(), transparency=image.info.get("transparency"))
    return splice_png(out.getvalue(), png_leaks(orientation))


def raw_png(width: int, height: int, depth: int, color_type: int, pixels: bytes, interlace: bool) -> bytes:
    """A PNG written by hand: 16-bit RGB and Adam7 interlacing, which Pillow cannot write."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    bpp = channels * depth // 8
    stride = width * bpp
    rows = [pixels[y * stride : (y + 1) * stride] for y in range(height)]
    if interlace:
        passes = [
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ]
        raw = bytearray()
        for x0, y0, dx, dy in passes:
            for y in range(y0, height, dy):
                line = b"".join(rows[y][x * bpp : (x + 1) * bpp] for x in range(x0, width, dx))
                if line:
                    raw += b"\0" + line
    else:
        raw = bytearray(b"".join(b"\0" + row for row in rows))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, int(interlace))
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(bytes(raw)))
        + png_chunk(b"IEND", b"")
    )


def webp(kind: str = "lossy", orientation: int = 1) -> bytes:
    """A WebP (lossy, lossless, alpha or animated) with EXIF, XMP, ICC, an unknown chunk and
    bytes after the RIFF end."""
    out = io.BytesIO()
    exif, xmp = full_exif(orientation), xmp_packet()
    if kind == "animated":
        frames = [picture(), picture().transpose(Image.Transpose.ROTATE_180), picture((96, 64), "RGBA")]
        frames[0].save(
            out,
            "WEBP",
            save_all=True,
            append_images=frames[1:],
            duration=[100, 150, 200],
            loop=3,
            exif=exif,
            xmp=xmp,
            icc_profile=srgb_icc(),
            lossless=True,
        )
    else:
        image = picture(mode="RGBA" if kind == "alpha" else "RGB")
        image.save(
            out, "WEBP", lossless=kind == "lossless", quality=80, exif=exif, xmp=xmp, icc_profile=srgb_icc()
        )
    data = out.getvalue()
    extra = b"SECR" + struct.pack("<I", len(SERIAL)) + SERIAL.encode()
    body = data[12:] + extra
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body + TRAILER


def gif(animated: bool = True) -> bytes:
    """An animated GIF with comments, an XMP application extension, an unknown application
    extension, a plain-text extension and bytes after the trailer."""
    out = io.BytesIO()
    frames = [
        picture((48, 32)).convert("P"),
        picture((48, 32)).transpose(Image.Transpose.FLIP_TOP_BOTTOM).convert("P"),
    ]
    if animated:
        frames[0].save(
            out,
            "GIF",
            save_all=True,
            append_images=frames[1:],
            duration=[80, 120],
            loop=0,
            comment=COMMENT.encode(),
            transparency=0,
        )
    else:
        frames[0].save(out, "GIF", comment=COMMENT.encode())
    data = out.getvalue()
    packet = xmp_packet()
    magic = bytes([1]) + bytes(range(255, -1, -1)) + b"\0"
    xmp_ext = b"\x21\xff\x0bXMP DataXMP" + packet + magic
    unknown = b"\x21\xff\x0bSECRETAP1.0" + bytes([len(SERIAL)]) + SERIAL.encode() + b"\0"
    plain = b"\x21\x01\x0c" + b"\0" * 12 + bytes([len(COMMENT)]) + COMMENT.encode() + b"\0"
    screen_end = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    return data[:screen_end] + xmp_ext + unknown + plain + data[screen_end:] + TRAILER


def tiff(pages: int = 2, orientation: int = 1, with_thumbnail_page: bool = True) -> bytes:
    """A multi-page TIFF whose IFDs carry Make/Model/Software/Artist/DateTime, XMP, IPTC
    and a reduced-resolution (thumbnail) page."""
    out = io.BytesIO()
    images = [picture(), picture().transpose(Image.Transpose.ROTATE_180)][:pages]
    if with_thumbnail_page:
        thumb = picture((24, 16))
        thumb.encoderinfo = {"tiffinfo": {254: 1, 270: COMMENT}}
        images.append(thumb)
    info = {
        271: "SecretMaker",
        272: CAMERA,
        305: SOFTWARE,
        306: WHEN,
        315: ARTIST,
        270: COMMENT,
        33432: OWNER,
        274: orientation,
        316: CAMERA,
        700: xmp_packet(),
    }
    images[0].save(
        out,
        "TIFF",
        save_all=True,
        append_images=images[1:],
        tiffinfo=info,
        compression="tiff_lzw",
        icc_profile=srgb_icc(),
    )
    return out.getvalue()


def tiny_tiff_with(entries: dict[int, tuple[int, int, int | None]]) -> bytes:
    """An 8x8 grey little-endian TIFF whose IFD entries for the given tags are rewritten to
    (type, count, value); a value of None keeps the entry's own value field."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    offset = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, offset)[0]):
        at = offset + 2 + 12 * i
        tag = struct.unpack_from("<H", data, at)[0]
        if tag in entries:
            kind, count, value = entries[tag]
            struct.pack_into("<HHI", data, at, tag, kind, count)
            if value is not None:
                struct.pack_into("<I", data, at + 8, value)
    return bytes(data)


def heic(with_video: bool = True) -> bytes:
    """A HEIC (real x265 encoder) with EXIF, XMP and a Samsung-style motion-photo 'mpvd' box."""
    import pillow_heif

    out = io.BytesIO()
    source = picture((128, 96))
    source.info["icc_profile"] = srgb_icc()
    image = pillow_heif.from_pillow(source)
    image.save(out, quality=90, exif=full_exif(thumbnail=False), xmp=xmp_packet())
    data = out.getvalue()
    if with_video:
        video = fake_mp4()
        data += struct.pack(">I", 8 + len(video)) + b"mpvd" + video
    return data


def avif() -> bytes:
    out = io.BytesIO()
    picture((128, 96)).save(out, "AVIF", quality=90, exif=full_exif(thumbnail=False), xmp=xmp_packet())
    return out.getvalue()
