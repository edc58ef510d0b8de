"""Fixtures for the demo tests: bad uploads made on the fly, and the app served on a free port."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "demos" / "examples"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives the app in Debian's chromium with Playwright (skipped, "
        "with the reason, when either is missing)")


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    """Uploads a demo must refuse with a plain message: name -> file."""
    root = tmp_path_factory.mktemp("bad")
    text = root / "notes.png"                  # text with an image's name
    text.write_text("these are not pixels\n")
    tiny = root / "one_pixel.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tiny)
    return {"not_an_image": text, "truncated": FIXTURES / "corrupt" / "truncated.png",
            "one_pixel": tiny}


@pytest.fixture(scope="session")
def odd_files(tmp_path_factory) -> dict[str, Path]:
    """Unusual but valid uploads a demo must answer: grey, RGBA, 16-bit, 8000x8000."""
    root = tmp_path_factory.mktemp("odd")
    photo = np.asarray(Image.open(EXAMPLES / "scenes" / "scene_1.png"))
    files = {}
    files["grey"] = root / "grey.png"
    Image.fromarray(photo).convert("L").save(files["grey"])
    files["rgba"] = root / "rgba.png"
    rgba = np.concatenate([photo, np.full(photo.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    rgba[:20, :20, 3] = 0                      # a transparent corner
    Image.fromarray(rgba, "RGBA").save(files["rgba"])
    files["sixteen_bit"] = root / "sixteen_bit.png"   # the shipped depth map: mm, I;16
    files["sixteen_bit"].write_bytes((EXAMPLES / "scenes" / "scene_1_depth.png").read_bytes())
    files["huge"] = root / "huge.png"          # 8000x8000: a scene scaled up, then stored
    big = Image.fromarray(photo).resize((8000, 8000), Image.Resampling.NEAREST)
    big.save(files["huge"], compress_level=1)
    return files


DETECTOR = "retinanet.bccd"


@pytest.fixture
def detector() -> str:
    """The weight tag of the Detect tab: the shipped record (bundled, so always here)."""
    from demos import common

    assert common.available(DETECTOR), f"{DETECTOR} is not bundled in zoo/weights"
    return DETECTOR


@pytest.fixture
def forward_passes(detector, monkeypatch) -> list[int]:
    """The Detect tab's forward passes from now on, counted (one entry, the batch size, per
    call of the compiled model), with its cache of raw outputs emptied."""
    import dataclasses

    from demos import detect

    calls: list[int] = []
    real = detect.get_model

    def counted(key):
        loaded = real(key)

        def predict(x):
            calls.append(len(x))
            return loaded.predict(x)
        return dataclasses.replace(loaded, predict=predict)

    monkeypatch.setattr(detect, "get_model", counted)
    detect.OUTPUTS.clear()
    return calls


@pytest.fixture(scope="session")
def app_url():
    """The whole app (every tab) served in this process on a free port, as `python -m demos`
    serves it (same queue and launch settings)."""
    from demos.app import build
    from demos.bench import _free_port
    from demos.common import LAUNCH_KWARGS

    demo = build()
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                quiet=True, **LAUNCH_KWARGS)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def hostile_files(tmp_path_factory) -> dict[str, Path]:
    """Small files that decode to huge images (issue 16): name -> file.

    - ``deep``: 9999x9999 16-bit grey PNG, ~200 KB (200 MB decoded; as float64, 800 MB);
    - ``wide``: 13300x13300 grey PNG, ~170 KB: 177 megapixels, over the demos' limit of 100
      but under Pillow's own refusal (179), so Gradio's preprocessing decodes it;
    - ``vast``: 20000x20000 1-bit PNG, ~50 KB: 400 megapixels, which Pillow itself refuses.
    """
    root = tmp_path_factory.mktemp("hostile")
    files = {"deep": root / "deep.png", "wide": root / "wide.png", "vast": root / "vast.png"}
    deep = Image.new("I;16", (9999, 9999))
    deep.paste(4000, (2000, 2000, 8000, 8000))        # a bright square: not a blank picture
    deep.save(files["deep"], optimize=True)
    Image.new("L", (13300, 13300), 255).save(files["wide"], optimize=True)
    Image.new("1", (20000, 20000)).save(files["vast"], optimize=True)
    return files
