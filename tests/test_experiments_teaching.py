"""Notebook 9's teaching helpers: Eq. 8 on one edge, and the lab whose steps a student writes (Eq. 5)."""
from __future__ import annotations

import torch

from milenas_lib import experiments as ex


def test_the_relaxation_demo_matches_the_supernets_mixed_edge():
    demo = ex.relaxation_demo()
    assert demo["max_difference"] < 1e-5
    assert abs(demo["table"]["softmax weight p_k"].sum() - 1) < 1e-6


def test_a_lab_step_moves_alpha_and_w_exactly_by_the_written_rule():
    lab = ex.TeachingLab(lam=0.5, steps=2)
    train, val = lab.batches[0]
    g_alpha_train, g_w_train = lab.gradients(train)
    g_alpha_val, _ = lab.gradients(val)
    alpha_before = torch.cat([a.detach().flatten() for a in lab.model.alphas()])
    w_before = [w.detach().clone() for w in lab.model.weights()]
    lab.step_w(g_w_train)
    lab.step_alpha(g_alpha_train + lab.lam * g_alpha_val)
    alpha_after = torch.cat([a.detach().flatten() for a in lab.model.alphas()])
    expected = alpha_before - lab.alpha_lr * (g_alpha_train + 0.5 * g_alpha_val)  # Eq. 5, α
    assert torch.allclose(alpha_after, expected) and not torch.equal(alpha_after, alpha_before)
    for before, after, grad in zip(w_before, lab.model.weights(), g_w_train):
        assert torch.allclose(after, before - lab.w_lr * grad)                    # Eq. 5, w
    assert g_alpha_train.shape == alpha_before.shape and len(lab.batches) == 2
    lab.record(train, val)
    assert list(lab.history().columns[:3]) == ["step", "L_tr", "L_val"]
