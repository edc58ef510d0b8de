"""demos.bench's statistics and report, and the command-line flags of the app (no server)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from demos import bench, common


def test_summarize_percentiles_throughput_and_errors():
    latencies = [i / 1000 for i in range(1, 101)]                # 1 ... 100 ms
    result = bench.summarize(latencies, errors=2, wall_s=2.0)
    assert result["requests"] == 102 and result["errors"] == 2
    assert result["p50_ms"] == pytest.approx(np.percentile(np.arange(1, 101), 50))   # 50.5
    assert result["p95_ms"] == pytest.approx(95.05) and result["p99_ms"] == pytest.approx(99.01)
    assert result["req_per_s"] == pytest.approx(50.0)            # 100 answered in 2 s


def test_summarize_with_every_request_failed():
    result = bench.summarize([], errors=3, wall_s=1.0)
    assert result["errors"] == 3 and math.isnan(result["p50_ms"]) and result["req_per_s"] == 0


def test_report_table_lists_endpoints_ratios_to_the_floor_and_skips():
    results = {"floor": bench.summarize([0.02, 0.04], 0, 1.0),          # p50 30 ms
               "lenet": {**bench.summarize([0.05, 0.07], 0, 1.0), "rss_mb": 900.0},
               "depth": {"skipped": "warm-up failed: no weights"}}
    table = bench.format_table(results, clients=2, requests=1, peak_rss=1000 * 2**20,
                               client="http")
    assert "| floor | 2 | 0 | 30 | 39 | 40 | 1.00 |" in table
    assert "| lenet | 2 | 0 | 60 | 69 | 70 | 2.00 | 2.0 | 900 MB |" in table
    assert "skipped: warm-up failed" in table and "2 parallel http clients" in table
    assert "peak RSS: 1000 MB" in table


def test_every_benchmarked_endpoint_uses_a_shipped_example():
    """A shipped example, or a copy of one with new pixels (`bench._new_pixels`)."""
    shipped = {path.stem for path in bench.EXAMPLES.rglob("*") if path.is_file()}
    for name, (api_name, make_args) in bench.ENDPOINTS.items():
        assert api_name.startswith("/")
        args = make_args()
        files = [a for a in args if isinstance(a, dict) and "path" in a]
        files += [a["composite"] for a in args if isinstance(a, dict) and "composite" in a]
        assert files, name
        for f in files:
            path = Path(f["path"])
            assert path.is_file() and (bench.EXAMPLES in path.parents or (
                path.parent == bench._copies_folder()
                and path.stem.rsplit("_", 1)[0] in shipped)), (name, path)


def test_every_tab_has_a_benchmarked_endpoint():
    from demos import app

    benched = {api_name for api_name, _ in bench.ENDPOINTS.values()}
    for title, module in app.tab_modules():
        public = {f"/{fn.api_name}" for fn in module.build().fns.values()
                  if fn.api_name and fn.api_visibility == "public"}
        assert public & benched, f"the {title} tab has no endpoint in demos.bench.ENDPOINTS"
    assert {"detect_640x480", "detect_thresholds"} <= set(bench.ENDPOINTS)


def test_new_pixels_makes_a_new_image_of_the_same_example_each_time():
    from PIL import Image

    first, second = (np.asarray(Image.open(bench._new_pixels(bench.BLOOD)["path"]))
                     for _ in range(2))
    example = np.asarray(Image.open(bench.EXAMPLES / bench.BLOOD).convert("RGB"))
    assert first.shape == second.shape == example.shape == (480, 640, 3)
    assert not np.array_equal(first, second)                      # a new upload for the tab
    np.testing.assert_array_equal(first[2:], example[2:])         # the same picture otherwise


def test_command_line_defaults_and_flags(monkeypatch):
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    args = common.parse_args([], "x")
    assert (args.host, args.port, args.share, args.preload) == ("127.0.0.1", 7860, False, False)
    args = common.parse_args(["--host", "0.0.0.0", "--port", "8080", "--share"], "x")
    assert (args.host, args.port, args.share) == ("0.0.0.0", 8080, True)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")          # what a Space sets
    assert common.parse_args([], "x").host == "0.0.0.0"


@pytest.mark.parametrize("kind", ["gradio_client", "http"])
def test_both_clients_time_the_floor_endpoint(kind):
    """The reference server answers each client; plain HTTP downloads no file for a label."""
    port = bench._free_port()
    floor = bench.start_floor_server(port)
    try:
        result = bench.bench_endpoint(f"http://127.0.0.1:{port}/", *bench.FLOOR, clients=2,
                                      requests=3, client=kind)
    finally:
        bench.stop_server(floor)
    assert result["requests"] == 6 and result["errors"] == 0, result
    assert 0 < result["p50_ms"] <= result["p99_ms"]



def test_the_session_cap_bounds_the_state_kept_for_rest_calls():
    """Each REST call is a session of its own; Gradio keeps each session's state (~165 KB
    for the whole app) up to ``state_session_capacity``, which the app's launch sets
    (`common.SESSIONS`): without it the server grew with every request."""
    assert common.LAUNCH_KWARGS["state_session_capacity"] == common.SESSIONS
    floor = common.configure(bench.build_floor())
    port = bench._free_port()
    floor.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                 quiet=True, **{**common.LAUNCH_KWARGS, "state_session_capacity": 3})
    try:
        client = bench.HttpClient(f"http://127.0.0.1:{port}/")
        for _ in range(8):
            client.predict(*bench.FLOOR[1](), api_name=bench.FLOOR[0])
        assert 0 < len(floor.state_holder.session_data) <= 3
    finally:
        floor.close()
