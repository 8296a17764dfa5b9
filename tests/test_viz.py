"""bertlab.viz: the static grid, and bertviz views that are self-contained (no CDN) and really draw."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pytest
import torch

from bertlab import viz

matplotlib.use("Agg")
TOKENS = ["[CLS]", "the", "cat", "[SEP]"]
ATT = tuple(torch.rand(1, 3, 4, 4).softmax(-1) for _ in range(2))


def test_offline_head_view_has_no_remote_script_and_inlines_d3_jquery_and_the_shim():
    html = viz.head_view(ATT, TOKENS).html
    assert not re.search(r"<script[^>]+src=", html), "no external <script src=…>"
    assert "cdnjs" not in html.split("require.config")[0]
    assert "d3js.org v5.7.0" in html and "jQuery v3.7.1" in html
    assert "var requirejs = function (deps, callback)" in html
    assert all(t in html for t in ("[CLS]", "cat"))


def test_model_view_is_offline_too():
    html = viz.model_view(ATT, TOKENS).html
    assert not re.search(r"<script[^>]+src=", html) and "d3js.org v5.7.0" in html


def test_views_accept_numpy_and_per_layer_three_dimensional_arrays():
    att = [np.full((2, 4, 4), 0.25) for _ in range(2)]
    assert "[CLS]" in viz.head_view(att, TOKENS).html


@pytest.mark.parametrize(
    "att, tokens, match",
    [
        ((torch.rand(1, 2, 4, 4),), ["a", "b"], "4 tokens but 2"),
        ((torch.rand(2, 2, 4, 4),), TOKENS, "expected"),
        ((), TOKENS, "no attention"),
    ],
)
def test_bad_shapes_are_reported(att, tokens, match):
    with pytest.raises(ValueError, match=match):
        viz.attention_grid(att, tokens)


def test_static_grid_has_one_axes_per_layer_and_head():
    assert len(viz.attention_grid(ATT, TOKENS).axes) == 6
    assert len(viz.attention_grid(ATT, TOKENS, layer=1, heads=[0, 2]).axes) == 2
    with pytest.raises(ValueError, match="layer 5"):
        viz.attention_grid(ATT, TOKENS, layer=5)


def test_heatmap_checks_token_counts():
    with pytest.raises(ValueError, match="do not match"):
        viz.attention_heatmap(np.eye(3), ["a", "b"])


@pytest.mark.browser
@pytest.mark.parametrize("view", [viz.head_view, viz.model_view], ids=["head_view", "model_view"])
def test_offline_view_draws_svg_in_headless_chromium_without_network(tmp_path, view):
    from playwright.sync_api import sync_playwright

    from tests.browser_utils import launch

    page_file = tmp_path / "view.html"
    page_file.write_text("<html><body>" + view(ATT, TOKENS).html + "</body></html>")
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        errors, requests = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        page.wait_for_selector("svg", timeout=10_000)
        drawn = page.locator("svg line, svg rect, svg path").count()
        browser.close()
    assert not errors, errors
    assert drawn > 10
    assert all(u.startswith("file://") for u in requests), requests
