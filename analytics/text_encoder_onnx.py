"""The sentence encoder's forward pass as an ONNX graph, run by onnxruntime.

The same computation as ``TextEncoder``'s numpy forward pass (analytics/text_encoder.py), built
in memory from the same checked weights (nothing is downloaded or written), about 4 times
faster per message on this machine (bench/REPORT.md, "Sentence encoder"): onnxruntime fuses
the layer norms, GELU and attention products that numpy runs as separate small operations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

HEADS = 12


def onnx_forward(
    words: np.ndarray,
    positions: np.ndarray,
    norm: tuple[np.ndarray, np.ndarray],
    layers: list[tuple[Any, ...]],
    eps: float,
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function (token ids (n, L), mask (n, L)) -> last hidden states (n, L, 384)."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    hidden = words.shape[1]
    head = hidden // HEADS
    initializers, nodes = [], []

    def constant(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    counter = iter(range(1_000_000))

    def op(kind: str, inputs: list[str], **attributes: Any) -> str:
        out = f"t{next(counter)}"
        nodes.append(helper.make_node(kind, inputs, [out], **attributes))
        return out

    def layer_norm(x: str, weights: tuple[np.ndarray, np.ndarray], name: str) -> str:
        w, b = constant(f"{name}.w", weights[0]), constant(f"{name}.b", weights[1])
        return op("LayerNormalization", [x, w, b], axis=-1, epsilon=eps)

    def dense(x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
        return op("Add", [op("MatMul", [x, constant(f"{name}.w", w)]), constant(f"{name}.b", b)])

    f32 = np.float32
    constant("heads_shape", np.array([0, 0, HEADS, head], np.int64))
    constant("hidden_shape", np.array([0, 0, hidden], np.int64))
    constant("scale", np.array(1.0 / np.sqrt(head), f32))
    constant("half", np.array(0.5, f32))
    constant("one", np.array(1.0, f32))
    constant("inv_sqrt2", np.array(1.0 / np.sqrt(2.0), f32))
    x = op(
        "Add",
        [
            op("Gather", [constant("words", words), "ids"]),
            op("Gather", [constant("positions", positions), "position_ids"]),
        ],
    )
    x = layer_norm(x, norm, "embeddings")
    for i, (qkv, qkv_b, out_w, out_b, norm1, up_w, up_b, down_w, down_b, norm2) in enumerate(
        layers
    ):
        parts = [f"q{i}", f"k{i}", f"v{i}"]
        nodes.append(
            helper.make_node(
                "Split", [dense(x, qkv, qkv_b, f"qkv{i}")], parts, axis=-1, num_outputs=3
            )
        )
        q, k, v = (op("Reshape", [p, "heads_shape"]) for p in parts)
        q = op("Transpose", [q], perm=[0, 2, 1, 3])
        k = op("Transpose", [k], perm=[0, 2, 3, 1])
        v = op("Transpose", [v], perm=[0, 2, 1, 3])
        scores = op("Add", [op("Mul", [op("MatMul", [q, k]), "scale"]), "blocked"])
        context = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        context = op("Reshape", [op("Transpose", [context], perm=[0, 2, 1, 3]), "hidden_shape"])
        x = layer_norm(op("Add", [dense(context, out_w, out_b, f"out{i}"), x]), norm1, f"n1.{i}")
        up = dense(x, up_w, up_b, f"up{i}")
        erf = op("Erf", [op("Mul", [up, "inv_sqrt2"])])
        gelu = op("Mul", [op("Mul", [up, "half"]), op("Add", [erf, "one"])])
        x = layer_norm(op("Add", [dense(gelu, down_w, down_b, f"down{i}"), x]), norm2, f"n2.{i}")
    nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, [None, None]),
            helper.make_tensor_value_info("position_ids", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("blocked", TensorProto.FLOAT, [None, 1, 1, None]),
        ],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [None, None, hidden])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    options = onnxruntime.SessionOptions()
    # One thread per call: the Rasa server answers several conversations at once on few cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )

    def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {
            "ids": ids,
            "position_ids": np.arange(ids.shape[1], dtype=np.int64),
            "blocked": ((1.0 - mask) * np.float32(-1e9))[:, None, None, :],
        }
        return session.run(["hidden"], feed)[0]

    return forward
