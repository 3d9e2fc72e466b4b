"""Writes the small safetensors files the error tests read (run from this folder)."""
import json
import struct


def write(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def ramp(n, scale=0.01):
    return [((i * 7) % 13 - 6) * scale for i in range(n)]


# For weights.sc: `conv` needs weight [4, 3, 3, 3]; `bn` weight/bias/running_mean/running_var [4].
write("bad_weights.safetensors", {
    "conv.weight": ([4, 3, 3, 2], ramp(72)),       # wrong shape
    "bn.weight": ([4], [1.0] * 4),
    "bn.bias": ([4], [0.0] * 4),
    "bn.running_var": ([4], [1.0] * 4),             # running_mean is missing
    "fc.weight": ([10, 4], ramp(40)),               # unexpected
})
# For sconv.sc: a dense kernel for `s` that is far from the structure.
write("unstructured.safetensors", {
    "s.weight": ([4, 4, 3, 3], [(-1.0) ** i * (1 + i % 5) for i in range(144)]),
})
write("both_alpha_and_weight.safetensors", {
    "s.weight": ([4, 4, 3, 3], [0.0] * 144),
    "s.alpha": ([4, 2, 2, 2], [0.0] * 32),
})
write("good_weights.safetensors", {
    "conv.weight": ([4, 3, 3, 3], ramp(108)),
    "bn.weight": ([4], [1.0] * 4),
    "bn.bias": ([4], [0.0] * 4),
    "bn.running_mean": ([4], [0.0] * 4),
    "bn.running_var": ([4], [1.0] * 4),
})
write("wrong_input_shape.safetensors", {"x": ([1, 3, 8, 7], ramp(168))})
write("wrong_input_name.safetensors", {"image": ([1, 3, 8, 8], ramp(192))})
with open("corrupt.safetensors", "wb") as f:
    f.write(struct.pack("<Q", 5000) + b'{"conv.weight": {"dtype": "F32"')
