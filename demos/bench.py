"""Load benchmark of the demo app: K parallel clients x N requests per tab.

Starts ``python -m demos --preload`` on 127.0.0.1 (or uses ``--url``), sends one warm-up
request per endpoint (loading and compiling its model: not timed), then lets ``--clients``
threads, each with its own client, send ``--requests`` requests each, one after another,
with the shipped example images. Latency is what a client sees: upload, queue, inference
and the result's download. Prints per endpoint p50 / p95 / p99 latency, throughput and
errors, and the server's resident memory (RSS, with its child processes), sampled every
0.2 s.

Two clients (``--client``):

- ``gradio_client`` (default): `gradio_client.Client`, as a Python user calls a Space. Its
  SSE reader polls for messages every 50 ms (``time.sleep(0.05)`` in
  ``gradio_client.utils.stream_sse_v1plus``), so its latencies come in steps of ~50 ms
  whatever the server does.
- ``http``: plain HTTP with httpx on Gradio's documented REST API, the way a browser
  talks to the app without the polling: upload (``/gradio_api/upload``), call
  (``POST /gradio_api/call/<api>``), the result's event stream
  (``GET /gradio_api/call/<api>/<event_id>``), then a download of every output file.

Every run also times a reference: a no-op Gradio endpoint (image upload in, label out,
same queue and launch settings) served from this process, with the same client. Its p50 is
the floor of the request path; the ``x floor`` column is each endpoint's p50 over it.

    python -m demos.bench                                  # 8 clients x 50 requests
    python -m demos.bench --clients 1 --client http
    python -m demos.bench --clients 2 --requests 5 --endpoints lenet cifar_resnet
    python -m demos.bench --json docs/demos/bench.json

Targets (issue 6, 2 CPU cores): LeNet and CIFAR ResNet p50 below 100 ms, U-Net at 256x256
below 1 s, Detect at 640x480 below 1 s (a new image each request: the network runs), no
errors under 8 clients x 50 requests, RSS below 3 GB with every tab loaded.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

EXAMPLES = Path(__file__).resolve().parent / "examples"


def _file(relative: str) -> Any:
    from gradio_client import handle_file

    return handle_file(str(EXAMPLES / relative))


_COPIES = itertools.count()


@functools.cache
def _copies_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="zoo-bench-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _new_pixels(relative: str) -> Any:
    """A shipped example with its corner pixels changed on every call (lossless PNG), for a
    tab that keeps its work per image (Detect keeps the network's outputs for its sliders):
    each request is then a new upload, network included."""
    from gradio_client import handle_file
    from PIL import Image

    n = next(_COPIES)
    image = Image.open(EXAMPLES / relative).convert("RGB")
    image.paste((n % 256, n // 256 % 256, n // 65536 % 256), (0, 0, 2, 2))
    path = _copies_folder() / f"{Path(relative).stem}_{n}.png"
    image.save(path, compress_level=1)
    return handle_file(str(path))


BLOOD = "bccd/JPEGImages/BloodImage_00057.jpg"     # 640x480
_THRESHOLDS = itertools.cycle([(0.3, 0.5), (0.5, 0.3), (0.7, 0.7)])   # (score, IoU)


# name -> (api_name, function building the arguments): one row of the report each.
ENDPOINTS: dict[str, tuple[str, Callable[[], list[Any]]]] = {
    "lenet_sketch": ("/classify_digit", lambda: [{"background": None, "layers": [],
                                                  "composite": _file("digits/digit_7.png")}]),
    "lenet": ("/classify_image", lambda: [_file("digits/digit_3.png"), "lenet5.mnist"]),
    "cifar_resnet": ("/classify_image", lambda: [_file("cifar10/cat.jpg"),
                                                 "resnet20_cifar.cifar10"]),
    "verify_faces": ("/verify", lambda: [_file("faces/s35_1.png"), _file("faces/s35_2.png"),
                                         "facenet.att_faces"]),
    "unet_256": ("/segment", lambda: [_file("membrane/synthetic_em.png"), "unet.membrane"]),
    # a new image each time (forward pass, decoding, pictures), then one image with thresholds
    # that change (what a slider does: decoding and pictures only, the outputs kept)
    "detect_640x480": ("/detect", lambda: [_new_pixels(BLOOD), "retinanet.bccd", 0.3, 0.5]),
    "detect_thresholds": ("/detect", lambda: [_file(BLOOD), "retinanet.bccd",
                                              *next(_THRESHOLDS)]),
    "depth": ("/depth", lambda: [_file("scenes/scene_1.png"), "eigen_depth.scenes"]),
    "feature_maps": ("/feature_maps", lambda: [_file("cifar10/cat.jpg"),
                                               "resnet20_cifar.cifar10", "conv2_block1_out"]),
    "convolve": ("/convolve", lambda: [_file("scenes/scene_1.png"), "Gaussian blur", 2.0,
                                       "0 -1 0\n-1 5 -1\n0 -1 0"]),
}


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------

def _is_file(value: Any) -> bool:
    return isinstance(value, dict) and value.get("meta", {}).get("_type") == "gradio.FileData"


def _walk(value: Any, fn: Callable[[dict], Any]) -> Any:
    """``value`` with every file dict replaced by ``fn(file)`` (nested lists and dicts)."""
    if _is_file(value):
        return fn(value)
    if isinstance(value, dict):
        return {k: _walk(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v, fn) for v in value]
    return value


class HttpClient:
    """Gradio's REST API over httpx, with `gradio_client.Client.predict`'s call signature.

    ``predict`` uploads the input files, queues the call, reads the event stream until the
    result (or error) arrives, and downloads every output file, as the browser displays it.
    One HTTP/1.1 connection pool per client. Raises RuntimeError on an error event.
    """

    def __init__(self, url: str, timeout_s: float = 300.0):
        import httpx

        self.base = url.rstrip("/") + "/gradio_api"
        self.http = httpx.Client(timeout=timeout_s)

    def _upload(self, file: dict) -> dict:
        path = Path(file["path"])
        with path.open("rb") as handle:
            reply = self.http.post(f"{self.base}/upload",
                                   files=[("files", (path.name, handle))])
        reply.raise_for_status()
        return {"path": reply.json()[0], "orig_name": path.name,
                "meta": {"_type": "gradio.FileData"}}

    def _download(self, file: dict) -> dict:
        url = file.get("url") or f"{self.base}/file={file['path']}"
        reply = self.http.get(url)
        reply.raise_for_status()
        return {**file, "bytes": len(reply.content)}

    def predict(self, *args: Any, api_name: str) -> Any:
        data = _walk(list(args), self._upload)
        api = api_name.strip("/")
        reply = self.http.post(f"{self.base}/call/{api}", json={"data": data})
        reply.raise_for_status()
        event_id = reply.json()["event_id"]
        event = None
        with self.http.stream("GET", f"{self.base}/call/{api}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.partition(":")[2].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    payload = json.loads(line.partition(":")[2])
                    if event == "error":
                        raise RuntimeError(f"{api_name} answered an error: {payload}")
                    return _walk(payload, self._download)
        raise RuntimeError(f"{api_name}: the event stream ended without a result")


def make_client(kind: str, url: str) -> Any:
    """A ``gradio_client`` or ``http`` client of the app at ``url``."""
    if kind == "http":
        return HttpClient(url)
    from gradio_client import Client

    return Client(url, verbose=False)


# ---------------------------------------------------------------------------------------------
# The reference: a no-op endpoint behind the same request path
# ---------------------------------------------------------------------------------------------

FLOOR = ("/noop", lambda: [_file("digits/digit_3.png")])


def build_floor() -> Any:
    """A Gradio app with one endpoint that does nothing: an upload in (`ImageInput`, as the
    tabs), a constant label out. Served with the app's queue and launch settings, its latency
    is Gradio's and the client's share of every endpoint's."""
    import gradio as gr

    from demos.common import ImageInput

    with gr.Blocks(analytics_enabled=False) as floor:
        image, label = ImageInput(), gr.Label()
        gr.Button().click(lambda path: {"nothing": 1.0}, image, label, api_name="noop")
    return floor


def start_floor_server(port: int) -> Any:
    """`build_floor` served in a process of its own, as the app is (``python -m
    demos.bench --serve-floor``): the clients' threads in this process must not share a
    GIL with the server they time."""
    return start_server(port, timeout_s=120, module=("demos.bench", "--serve-floor"))


def summarize(latencies_s: Sequence[float], errors: int, wall_s: float) -> dict[str, float]:
    """Percentiles in milliseconds (NumPy's linear interpolation), throughput, error count."""
    lat = np.asarray(latencies_s, np.float64) * 1000.0
    if lat.size == 0:
        return {"requests": 0, "errors": errors, "p50_ms": float("nan"),
                "p95_ms": float("nan"), "p99_ms": float("nan"), "mean_ms": float("nan"),
                "req_per_s": 0.0}
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    return {"requests": int(lat.size + errors), "errors": int(errors), "p50_ms": float(p50),
            "p95_ms": float(p95), "p99_ms": float(p99), "mean_ms": float(lat.mean()),
            "req_per_s": float(lat.size / wall_s) if wall_s > 0 else 0.0}


class RssSampler:
    """Samples a process's resident memory (with its children) in a background thread."""

    def __init__(self, pid: int | None, every_s: float = 0.2):
        self.pid, self.every_s, self.peak, self._stop = pid, every_s, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> int:
        if self.pid is None:
            return 0
        import psutil

        try:
            proc = psutil.Process(self.pid)
            procs = [proc, *proc.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs)
        except psutil.Error:
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(self.every_s)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, timeout_s: float = 600.0,
                 module: Sequence[str] = ("demos", "--preload")) -> subprocess.Popen:
    """``python -m demos --preload`` (or ``python -m <module>``) on 127.0.0.1:``port``, in
    its own process; returns once it answers."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "TF_CPP_MIN_LOG_LEVEL": "2"}
    # The server's log goes to a file: a pipe nobody reads fills up (64 KB of warnings) and
    # then blocks the server in the middle of a request.
    log = tempfile.NamedTemporaryFile("w+", prefix="zoo-demo-server-", suffix=".log",
                                      delete=False)
    proc = subprocess.Popen([sys.executable, "-m", *module, "--host", "127.0.0.1",
                             "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=log, text=True)
    proc.log_path = log.name
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"The demo server exited with code {proc.returncode}:\n"
                               f"{Path(proc.log_path).read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"The demo server did not answer on {url} within {timeout_s:.0f} s.")


def stop_server(proc: subprocess.Popen, keep_log: bool = False) -> None:
    """Stops a `start_server` process; its log is deleted unless ``keep_log`` (then printed)."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    if keep_log:
        print(f"server log: {proc.log_path}")
    else:
        Path(proc.log_path).unlink(missing_ok=True)


def bench_endpoint(url: str, api_name: str, make_args: Callable[[], list[Any]],
                   clients: int, requests: int, client: str = "gradio_client") -> dict[str, Any]:
    """One warm-up request, then ``clients`` threads x ``requests`` sequential requests."""
    first = make_client(client, url)
    try:
        first.predict(*make_args(), api_name=api_name)
    except Exception as err:  # noqa: BLE001 - reported, not raised: the endpoint is skipped
        return {"skipped": f"warm-up failed: {str(err).splitlines()[0][:200]}"}
    pool = [first] + [make_client(client, url) for _ in range(clients - 1)]
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker(client: Any) -> None:
        for _ in range(requests):
            args = make_args()
            start = time.perf_counter()
            try:
                client.predict(*args, api_name=api_name)
            except Exception as err:  # noqa: BLE001 - counted as an error
                with lock:
                    failures.append(str(err).splitlines()[0][:200] if str(err) else repr(err))
                continue
            with lock:
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as executor:
        list(executor.map(worker, pool))
    result: dict[str, Any] = summarize(latencies, len(failures), time.perf_counter() - start)
    if failures:
        result["first_error"] = failures[0]
    return result


def format_table(results: dict[str, dict[str, Any]], clients: int, requests: int,
                 peak_rss: int, client: str = "gradio_client") -> str:
    """The report as a Markdown table; ``results["floor"]``, when there, is the reference."""
    floor = results.get("floor", {}).get("p50_ms")
    lines = [f"{clients} parallel {client} clients x {requests} requests per endpoint "
             f"(latency as the client sees it; x floor = p50 / the no-op endpoint's p50)", "",
             "| endpoint | requests | errors | p50 ms | p95 ms | p99 ms | x floor | req/s "
             "| RSS after |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        if "skipped" in r:
            lines.append(f"| {name} | - | - | - | - | - | - | - | skipped: {r['skipped']} |")
            continue
        ratio = f"{r['p50_ms'] / floor:.2f}" if floor else "-"
        rss = f"{r['rss_mb']:.0f} MB" if "rss_mb" in r else "-"
        lines.append(f"| {name} | {r['requests']} | {r['errors']} | {r['p50_ms']:.0f} | "
                     f"{r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {ratio} | "
                     f"{r['req_per_s']:.1f} | {rss} |")
    lines += ["", f"Server peak RSS: {peak_rss / 2**20:.0f} MB"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="parallel clients (K)")
    parser.add_argument("--requests", type=int, default=50, help="requests per client (N)")
    parser.add_argument("--client", choices=["gradio_client", "http"], default="gradio_client",
                        help="gradio_client.Client, or plain HTTP on Gradio's REST API")
    parser.add_argument("--endpoints", nargs="+", choices=list(ENDPOINTS),
                        default=list(ENDPOINTS))
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the no-op reference endpoint")
    parser.add_argument("--url", help="benchmark a running app instead of starting one")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id (RSS)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--serve-floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=7861, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_floor:           # the reference server's own process (start_floor_server)
        from demos.common import LAUNCH_KWARGS, configure

        configure(build_floor()).launch(server_name=args.host, server_port=args.port,
                                        quiet=True, **LAUNCH_KWARGS)
        return {}
    if args.clients < 1 or args.requests < 1:
        parser.error("--clients and --requests must be at least 1")

    server = None
    url, pid = args.url, args.pid
    if url is None:
        port = _free_port()
        print(f"starting python -m demos on 127.0.0.1:{port} (models preloaded) ...",
              flush=True)
        server = start_server(port)
        url, pid = f"http://127.0.0.1:{port}/", server.pid
    results: dict[str, dict[str, Any]] = {}
    try:
        if not args.no_floor:
            # the reference first, while the app's server is idle; served from this process
            print(f"floor (no-op endpoint): {args.clients} x {args.requests} ...", flush=True)
            floor_port = _free_port()
            floor = start_floor_server(floor_port)
            try:
                results["floor"] = bench_endpoint(f"http://127.0.0.1:{floor_port}/", *FLOOR,
                                                  args.clients, args.requests, args.client)
            finally:
                stop_server(floor)
        with RssSampler(pid) as rss:
            for name in args.endpoints:
                api_name, make_args = ENDPOINTS[name]
                print(f"{name}: {args.clients} x {args.requests} ...", flush=True)
                results[name] = bench_endpoint(url, api_name, make_args, args.clients,
                                               args.requests, args.client)
                results[name]["rss_mb"] = rss.now() / 2**20
            peak = max(rss.peak, rss.now())
    finally:
        if server is not None:   # the log stays for a look when a request failed
            stop_server(server, keep_log=any(r.get("errors") for r in results.values()))
    print(format_table(results, args.clients, args.requests, peak, args.client))
    report = {"clients": args.clients, "requests": args.requests, "client": args.client,
              "url": url, "cpu_count": os.cpu_count(), "peak_rss_mb": peak / 2**20,
              "endpoints": results}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
