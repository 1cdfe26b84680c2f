"""Just enough of the ONNX file format to read the embedder's classifier and add one graph output.

An ONNX file is a protobuf ModelProto. Reading it needs only protobuf's wire format, so the
runtime does without the `onnx` package (whose import alone costs over a second and 40 MB). Field
numbers are those of onnx.proto: ModelProto.graph = 7; GraphProto.node = 1, .initializer = 5,
.output = 12; NodeProto.input = 1, .output = 2, .op_type = 4; TensorProto.dims = 1,
.data_type = 2, .name = 8, .raw_data = 9; ValueInfoProto.name = 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

FLOAT = 1  # TensorProto.DataType.FLOAT


class OnnxFormatError(ValueError):
    """The file is not an ONNX model this reader understands."""


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def fields(data: bytes | memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """(field number, value) of a protobuf message: ints for varints, memoryviews for the rest."""
    view, pos = memoryview(data), 0
    while pos < len(view):
        key, pos = _varint(view, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(view, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(view, pos)
            yield number, view[pos:pos + length]
            pos += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            yield number, view[pos:pos + size]
            pos += size
        else:
            raise OnnxFormatError(f"unsupported protobuf wire type {wire}")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | 0x80 if value else low)
        if not value:
            return bytes(out)


def _length_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


@dataclass
class Node:
    op_type: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def _text(value: int | memoryview) -> str:
    assert isinstance(value, memoryview)
    return bytes(value).decode("utf-8")


def _node(message: memoryview) -> Node:
    node = Node()
    for number, value in fields(message):
        if number == 1:
            node.inputs.append(_text(value))
        elif number == 2:
            node.outputs.append(_text(value))
        elif number == 4:
            node.op_type = _text(value)
    return node


def _tensor(message: memoryview) -> tuple[str, np.ndarray]:
    name, dims, data_type, raw = "", [], None, None
    for number, value in fields(message):
        if number == 1:
            if isinstance(value, int):
                dims.append(value)
            else:  # packed
                pos = 0
                while pos < len(value):
                    dim, pos = _varint(value, pos)
                    dims.append(dim)
        elif number == 2:
            data_type = value
        elif number == 8:
            name = _text(value)
        elif number == 9:
            raw = value
    if data_type != FLOAT or raw is None or isinstance(raw, int):
        raise OnnxFormatError(f"initializer {name!r} is not raw float32 data")
    return name, np.frombuffer(bytes(raw), dtype="<f4").reshape(dims)


@dataclass(frozen=True)
class ClassifierGraph:
    model: bytes  # the model, with the feature map added as a graph output
    feature_map: str  # that output's name
    weight: np.ndarray  # (classes, channels): logits = pooled features @ weight.T + bias
    bias: np.ndarray


def with_feature_map(data: bytes) -> ClassifierGraph:
    """Add the tensor the graph's GlobalAveragePool reads as an output, and read the weights of the
    Gemm that makes ``logits`` (the graph's final classifier, B transposed as PyTorch exports it)."""
    graphs = [value for number, value in fields(data) if number == 7 and isinstance(value, memoryview)]
    if len(graphs) != 1:
        raise OnnxFormatError("not an ONNX model with one graph")
    nodes, wanted = [], {}
    for number, value in fields(graphs[0]):
        if number == 1 and isinstance(value, memoryview):
            nodes.append(_node(value))
    pools = [n for n in nodes if n.op_type == "GlobalAveragePool"]
    gemms = [n for n in nodes if n.op_type == "Gemm" and n.outputs == ["logits"]]
    if len(pools) != 1 or len(gemms) != 1 or len(gemms[0].inputs) != 3:
        raise OnnxFormatError("the graph has no single GlobalAveragePool -> Gemm(logits) head")
    for number, value in fields(graphs[0]):
        if number == 5 and isinstance(value, memoryview):
            name, array = _tensor(value)
            if name in gemms[0].inputs[1:]:
                wanted[name] = array
    weight, bias = wanted[gemms[0].inputs[1]], wanted[gemms[0].inputs[2]]
    if weight.shape != (bias.shape[0], weight.shape[1]):
        raise OnnxFormatError(f"classifier weight {weight.shape} does not fit bias {bias.shape}")
    name = pools[0].inputs[0]
    # A message field given twice is merged by protobuf parsers: this appends one graph output.
    extra_output = _length_field(7, _length_field(12, _length_field(1, name.encode("utf-8"))))
    return ClassifierGraph(data + extra_output, name, weight.astype(np.float32), bias.astype(np.float32))
