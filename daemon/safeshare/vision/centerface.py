"""Face detection with the CenterFace ONNX model shipped in safeshare/data (MIT).

The model file declares a fixed 10x3x32x32 input; its input and output dimensions are made
symbolic by editing the protobuf bytes, so neither the `onnx` package nor any download is
needed. Input: RGB, float32 0..255, NCHW, sides padded to multiples of 32. Outputs at
stride 4: a heat map (sigmoid score), log box sizes, sub-cell offsets (and landmarks).
Runs in the vision worker only (it imports onnxruntime).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before onnxruntime is imported, or it phones home

LONG_SIDE = 1600
THRESHOLD = 0.5
NMS_IOU = 0.3
_session: Any = None


def session(threads: int) -> Any:
    global _session
    if _session is None:
        import onnxruntime as ort

        raw = resources.files("safeshare.data").joinpath("centerface.onnx").read_bytes()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_mem_pattern = False
        _session = ort.InferenceSession(
            _symbolic_dims(raw), sess_options=options, providers=["CPUExecutionProvider"]
        )
    return _session


def faces(
    rgb: Image.Image, threads: int, long_side: int = LONG_SIDE
) -> list[tuple[tuple[float, float, float, float], float]]:
    """(box in `rgb`'s pixels, score) for each face, largest first, looked for in `rgb`
    shrunk to at most `long_side` px."""
    small, factor = downscale(rgb, long_side)
    pixels = np.asarray(small, dtype=np.float32)
    height, width = pixels.shape[:2]
    blob = np.zeros((1, 3, -(-height // 32) * 32, -(-width // 32) * 32), np.float32)
    blob[0, :, :height, :width] = pixels.transpose(2, 0, 1)
    heat, scale, offset, _landmarks = session(threads).run(None, {"input.1": blob})
    ys, xs = np.nonzero(heat[0, 0] > THRESHOLD)
    if ys.size == 0:
        return []
    box_h, box_w = np.exp(scale[0, 0, ys, xs]) * 4, np.exp(scale[0, 1, ys, xs]) * 4
    cy, cx = (ys + offset[0, 0, ys, xs] + 0.5) * 4, (xs + offset[0, 1, ys, xs] + 0.5) * 4
    found = np.stack([cx - box_w / 2, cy - box_h / 2, cx + box_w / 2, cy + box_h / 2, heat[0, 0, ys, xs]], 1)
    out: list[tuple[tuple[float, float, float, float], float]] = []
    for x0, y0, x1, y1, score in _nms(found.astype(np.float32)):
        box = (float(max(0.0, x0)), float(max(0.0, y0)), float(min(width, x1)), float(min(height, y1)))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue  # centred in the padding, outside the picture: nothing there to hide
        out.append(((box[0] / factor, box[1] / factor, box[2] / factor, box[3] / factor), float(score)))
    return sorted(out, key=lambda f: -(f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))


def downscale(image: Image.Image, long_side: int) -> tuple[Image.Image, float]:
    """The image shrunk to at most `long_side` pixels, and the factor applied."""
    if max(image.size) <= long_side:
        return image, 1.0
    factor = long_side / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0), factor


def _nms(found: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1, score = found.T
    areas = (x1 - x0) * (y1 - y0)
    order, keep = score.argsort()[::-1], []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        overlap = np.maximum(0, np.minimum(x1[best], x1[rest]) - np.maximum(x0[best], x0[rest])) * np.maximum(
            0, np.minimum(y1[best], y1[rest]) - np.maximum(y0[best], y0[rest])
        )
        order = rest[overlap / (areas[best] + areas[rest] - overlap + 1e-9) < NMS_IOU]
    return found[keep]


# -- protobuf editing: ModelProto.graph(7).{input(11),output(12)}.type(2).tensor_type(1).shape(2).dim(1)
def _symbolic_dims(model: bytes) -> bytes:
    def shape(payload: bytes) -> bytes:
        out, axis = bytearray(), 0
        for number, _, raw in _fields(payload):
            if number == 1:  # a dimension: every axis but the channels becomes symbolic
                out += raw if axis == 1 else _length_delimited(1, _length_delimited(2, f"d{axis}".encode()))
                axis += 1
            else:
                out += raw
        return bytes(out)

    for io in (11, 12):
        model = _edit(model, (7, io, 2, 1, 2), shape)
    return model


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _fields(buf: bytes) -> Iterator[tuple[int, bytes | None, bytes]]:
    """(field number, payload of length-delimited fields, raw bytes) of a protobuf message."""
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _varint(buf, pos)
        wire, payload = key & 7, None
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == 2:
            length, begin = _varint(buf, pos)
            payload, pos = buf[begin : begin + length], begin + length
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
        yield key >> 3, payload, buf[start:pos]


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _edit(buf: bytes, path: tuple[int, ...], leaf: Callable[[bytes], bytes]) -> bytes:
    out = bytearray()
    for number, payload, raw in _fields(buf):
        if payload is not None and number == path[0]:
            out += _length_delimited(
                number, leaf(payload) if len(path) == 1 else _edit(payload, path[1:], leaf)
            )
        else:
            out += raw
    return bytes(out)
