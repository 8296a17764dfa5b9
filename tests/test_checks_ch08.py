"""Chapter 08 checks: the reference solutions pass; realistic fusion mistakes fail with the right hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bertlab import checks
from bertlab._solutions import solution_source
from bertlab.fusion import encoders, models, objectives
from tests.conftest import assert_check_passes, assert_check_rejects

NAMES = ("patch_embedding", "gated_fusion", "itm_negatives", "info_nce")
NS: dict = {"torch": torch, "np": np}
for _name in NAMES:
    exec(solution_source(_name), NS)


@pytest.mark.parametrize("name", NAMES)
def test_reference_solution_passes(name):
    assert_check_passes(getattr(checks, name), NS[name])


@pytest.mark.parametrize("name", NAMES)
def test_package_version_passes(name):
    home = {"patch_embedding": encoders, "gated_fusion": models, "itm_negatives": objectives, "info_nce": objectives}
    assert_check_passes(getattr(checks, name), getattr(home[name], name))


@pytest.mark.parametrize("name", NAMES)
def test_unattempted_is_reported_as_such(name):
    def stub(*args):
        raise NotImplementedError

    assert getattr(checks, name)(stub).status == "not attempted"


# ---- patch_embedding ---------------------------------------------------------------------------


def _grid(images, p):
    if images.dim() == 3:
        images = images[:, None]
    b, c, h, w = images.shape
    return images.reshape(b, c, h // p, p, w // p, p), (b, c, h, w)


def pe_column_major(images, p, weight, bias, pos):
    x, (b, c, h, w) = _grid(images, p)
    return x.permute(0, 4, 2, 1, 3, 5).reshape(b, -1, c * p * p) @ weight + bias + pos


def pe_transposed_pixels(images, p, weight, bias, pos):
    x, (b, c, h, w) = _grid(images, p)
    return x.permute(0, 2, 4, 1, 5, 3).reshape(b, -1, c * p * p) @ weight + bias + pos


def pe_overlapping(images, p, weight, bias, pos):
    x = images[:, None] if images.dim() == 3 else images
    patches = F.unfold(x, p, stride=1).transpose(1, 2)  # (B, 9, C·p·p) for 4×4 → overlapping windows
    return patches @ weight + bias


def pe_no_position(images, p, weight, bias, pos):
    return encoders.patchify(images, p) @ weight + bias


def pe_naive_reshape(images, p, weight, bias, pos):
    x = images[:, None] if images.dim() == 3 else images
    b, c, h, w = x.shape
    return x.reshape(b, -1, c * p * p) @ weight + bias + pos


def pe_channels_last(images, p, weight, bias, pos):
    x, (b, c, h, w) = _grid(images, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, -1, c * p * p) @ weight + bias + pos


@pytest.mark.parametrize("wrong, hint", [
    (pe_column_major, "column-major"),
    (pe_transposed_pixels, "transposed"),
    (pe_overlapping, "overlap"),
    (pe_no_position, "position embeddings are missing"),
    (pe_naive_reshape, "not square patches"),
    (pe_channels_last, "channels-last"),
    (lambda images, p, weight, bias, pos: (encoders.patch_embedding(images, p, weight, bias, pos)).numpy(),
     "works in pytorch"),
])
def test_patch_embedding_rejects(wrong, hint):
    assert_check_rejects(checks.patch_embedding, wrong, hint)


# ---- gated_fusion ------------------------------------------------------------------------------


@pytest.mark.parametrize("wrong, hint", [
    (lambda v_t, v_i, g: (g[:, 0:1] * v_t + g[:, 1:2] * v_i, g), "not normalised"),
    (lambda v_t, v_i, g: (torch.sigmoid(g)[:, 0:1] * v_t + torch.sigmoid(g)[:, 1:2] * v_i, torch.sigmoid(g)),
     "not normalised"),
    (lambda v_t, v_i, g: (g.softmax(0)[:, 0:1] * v_t + g.softmax(0)[:, 1:2] * v_i, g.softmax(0)), "dim 0"),
    (lambda v_t, v_i, g: (g.softmax(-1)[:, 1:2] * v_t + g.softmax(-1)[:, 0:1] * v_i, g.softmax(-1)),
     "wrong modality"),
    (lambda v_t, v_i, g: (torch.cat([g.softmax(-1)[:, :1] * v_t, g.softmax(-1)[:, 1:] * v_i], -1), g.softmax(-1)),
     "concatenated"),
    (lambda v_t, v_i, g: models.gated_fusion(v_t, v_i, g)[0], "pair"),
])
def test_gated_fusion_rejects(wrong, hint):
    assert_check_rejects(checks.gated_fusion, wrong, hint)


# ---- itm_negatives -----------------------------------------------------------------------------


def itm_permutation(labels, rng):  # the classic bug: a random permutation can map i → i
    return rng.permutation(len(labels))


def itm_derangement_any_label(labels, rng):  # never i itself, but may pick the same digit
    n = len(labels)
    while True:
        perm = rng.permutation(n)
        if np.all(perm != np.arange(n)):
            return perm


def itm_shift(labels, rng):  # deterministic: always the next example
    return (np.arange(len(labels)) + 1) % len(labels)


def itm_fixed_other_label(labels, rng):  # never random: the first example of another label
    labels = np.asarray(labels)
    return np.array([np.flatnonzero(labels != lab)[0] for lab in labels])


def itm_returns_labels(labels, rng):
    return np.array([rng.choice(np.asarray(labels)[np.asarray(labels) != lab]) for lab in labels]) + 100


@pytest.mark.parametrize("wrong, hint", [
    (itm_permutation, "fixed point"),
    (itm_derangement_any_label, "same label"),
    (itm_shift, "same label"),
    (itm_fixed_other_label, "not random"),
    (itm_returns_labels, "out of range"),
    (lambda labels, rng: None, "20 integer indices"),
])
def test_itm_negatives_rejects(wrong, hint):
    assert_check_rejects(checks.itm_negatives, wrong, hint)


def test_itm_negatives_rejects_a_fixed_shift_among_other_labels():
    def shift_to_next_label(labels, rng):  # random-looking but always the same partner per example
        labels = np.asarray(labels)
        order = np.argsort(labels, kind="stable")
        partner = np.empty(len(labels), dtype=np.int64)
        partner[order] = np.roll(order, 4)
        return partner

    result = checks.itm_negatives(shift_to_next_label)
    assert not result.passed and "not random" in (result.message + result.hint)


# ---- info_nce ----------------------------------------------------------------------------------


def _cos(img, txt):
    return F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T


def nce_one_direction(img, txt, tau):
    return F.cross_entropy(_cos(img, txt) / tau, torch.arange(len(img)))


def nce_text_to_image_only(img, txt, tau):
    return F.cross_entropy(_cos(img, txt).T / tau, torch.arange(len(img)))


def nce_whole_matrix(img, txt, tau):
    logits = _cos(img, txt) / tau
    return -torch.log_softmax(logits.flatten(), 0).view_as(logits).diagonal().mean()


def nce_no_temperature(img, txt, tau):
    t = torch.arange(len(img))
    return (F.cross_entropy(_cos(img, txt), t) + F.cross_entropy(_cos(txt, img), t)) / 2


def nce_times_temperature(img, txt, tau):
    t = torch.arange(len(img))
    return (F.cross_entropy(_cos(img, txt) * tau, t) + F.cross_entropy(_cos(txt, img) * tau, t)) / 2


def nce_not_normalised(img, txt, tau):
    t = torch.arange(len(img))
    return (F.cross_entropy(img @ txt.T / tau, t) + F.cross_entropy(txt @ img.T / tau, t)) / 2


def nce_per_example(img, txt, tau):
    t = torch.arange(len(img))
    logits = _cos(img, txt) / tau
    return (F.cross_entropy(logits, t, reduction="none") + F.cross_entropy(logits.T, t, reduction="none")) / 2


def nce_float_temperature(img, txt, tau):
    return objectives.info_nce(img, txt, float(tau.detach())).detach()


@pytest.mark.parametrize("wrong, hint", [
    (nce_one_direction, "only one direction"),
    (nce_text_to_image_only, "only the text→image direction"),
    (nce_whole_matrix, "whole b×b matrix"),
    (nce_no_temperature, "no temperature"),
    (nce_times_temperature, "multiplied by the temperature"),
    (nce_not_normalised, "l2-normalised"),
    (nce_per_example, "single number"),
    (nce_float_temperature, "temperature"),
])
def test_info_nce_rejects(wrong, hint):
    assert_check_rejects(checks.info_nce, wrong, hint)
