"""The MiniLM graph run by ONNX Runtime keeps the float32 numpy embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from agent_os.verifier._embedding import MiniLM, load_minilm
from tests.unit.verifier.test_verifier_judges import DIFFERENT, SAME

ort = pytest.importorskip("onnxruntime")
TEXTS = list(dict.fromkeys(text for pair in SAME + DIFFERENT for text in pair))


@pytest.fixture(scope="module")
def encoder() -> MiniLM:
    encoder = load_minilm()
    assert encoder.backend == "onnxruntime-int8"  # the cmvk extra installs ONNX Runtime
    return encoder


def test_int8_embeddings_keep_the_float_ones(encoder: MiniLM) -> None:
    # Three answers to a pass, as a verification embeds them. Over 500 NQ-open answers
    # the cosine was 0.992 on average and 0.977 at least; on these 90, 0.992 and 0.981.
    def embedded() -> list[np.ndarray]:
        passes = [encoder._encode(TEXTS[i : i + 3]) for i in range(0, len(TEXTS), 3)]
        return list(np.concatenate(passes))

    fast = embedded()
    layers, encoder._layers = encoder._layers, encoder._numpy_layers
    try:
        exact = embedded()
    finally:
        encoder._layers = layers
    cosines = [float(a @ b) for a, b in zip(fast, exact, strict=True)]
    assert min(cosines) > 0.97
    assert sum(cosines) / len(cosines) > 0.99


def test_the_spelled_out_attention_computes_what_the_attention_operator_does(
    encoder: MiniLM,
) -> None:
    # The graph for ONNX Runtime before 1.23 (no opset-23 Attention).
    from agent_os.verifier._minilm_onnx import _graph

    options = ort.SessionOptions()
    options.log_severity_level = 3
    ids = [encoder._tok.encode(text).ids for text in ("Ku Klux Klan", "It shut to be repaired.")]
    flat = np.array([i for text in ids for i in text], dtype=np.int64)[None]
    positions = np.array([i for text in ids for i in range(len(text))], dtype=np.int64)[None]
    text_of = np.repeat([0, 1], [len(text) for text in ids])
    mask = np.where(text_of[:, None] == text_of[None, :], 0.0, -1e9).astype(np.float32)
    pool = (text_of == np.array([[0], [1]])) / np.array([[len(text)] for text in ids])
    feed = {"ids": flat, "positions": positions, "mask": mask, "pool": pool.astype(np.float32)}
    outs = []
    for attention in (True, False):
        model = _graph(encoder._w, 12, attention=attention).SerializeToString()
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        outs.append(session.run(None, feed)[0])
    assert outs[0].shape == (1, 2, 384)
    assert np.abs(outs[0] - outs[1]).max() < 1e-5


def test_a_half_the_second_thread_has_not_started_is_run_by_the_first(encoder: MiniLM) -> None:
    import threading

    from agent_os.verifier._embedding import _second_thread

    texts = ["Yes.", "The bridge was closed for two weeks.", "Bananas are yellow.", "1925"]
    side_by_side = encoder._encode(texts)
    busy = threading.Event()
    _second_thread().submit(busy.wait)  # the second thread is taken: its half waits behind this
    release = threading.Timer(30, busy.set)  # so that a regression fails instead of hanging
    release.start()
    try:
        one_after_the_other = encoder._encode(texts)
        assert not busy.is_set()  # done without the second thread
    finally:
        busy.set()
        release.cancel()
    # The same two passes, each text in its place.
    assert np.abs(one_after_the_other - side_by_side).max() < 1e-6
