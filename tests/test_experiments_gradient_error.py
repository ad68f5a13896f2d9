"""Notebook 8's measurements: the search state is rebuilt as the search builds it, and the
finite difference of Eq. 7 converges to the exact hypergradient as ε shrinks (float64)."""
from __future__ import annotations

import pytest
import torch

from milenas_lib.algorithms.base import SearchContext
from milenas_lib.config import search_config
from milenas_lib.experiments.gradient_error import measure_gradients, search_state

CONFIG = search_config("smoke", C=4, layers=3, alpha_betas=(0.3, 0.9), alpha_weight_decay=0.01, w_lr=0.05,
                       channels_last=False)


def batch(dtype=torch.float64) -> tuple:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 8, 8, generator=generator, dtype=dtype)
    y = torch.tensor([0, 1, 2, 3])
    return x[:2], y[:2], x[2:], y[2:]


def stepped_checkpoint() -> dict:
    """A checkpoint's search state one SGD step in (momentum buffers exist), with a lowered learning rate."""
    torch.manual_seed(0)
    ctx = SearchContext.from_config(CONFIG)
    x, y, _, _ = batch(torch.float32)
    torch.nn.functional.cross_entropy(ctx.model(x), y).backward()
    ctx.w_optimizer.step()
    ctx.w_optimizer.param_groups[0]["lr"] = 0.0125
    return {"model": ctx.model.state_dict(), "w_optimizer": ctx.w_optimizer.state_dict()}


def test_search_state_is_the_checkpoint_in_the_measurement_dtype_with_the_configs_optimizers():
    checkpoint = stepped_checkpoint()
    ctx = search_state(CONFIG, checkpoint, 10, torch.float64, torch.device("cpu"))
    for name, value in ctx.model.state_dict().items():
        assert torch.equal(value, checkpoint["model"][name].to(value.dtype)), name
    assert all(p.dtype == torch.float64 for p in ctx.model.parameters())
    momenta = [ctx.w_optimizer.state[p]["momentum_buffer"] for p in ctx.weights() if p in ctx.w_optimizer.state]
    assert momenta and all(m.dtype == torch.float64 for m in momenta)
    assert ctx.lr == 0.0125                            # ξ of Eq. 6 at this state, not the initial rate
    adam = ctx.alpha_optimizer.param_groups[0]
    assert adam["betas"] == (0.3, 0.9) and adam["weight_decay"] == 0.01 and ctx.model.training


def test_the_finite_difference_converges_to_the_exact_hypergradient_as_epsilon_shrinks():
    ctx = search_state(CONFIG, stepped_checkpoint(), 10, torch.float64, torch.device("cpu"))
    rows = measure_gradients(ctx, batch(), lam=1.0, epsilons=[1e-1, 1e-6])
    coarse, fine = rows
    assert fine["second_order_relative_error"] < 1e-3
    assert fine["second_order_relative_error"] < coarse["second_order_relative_error"]
    assert fine["total_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert coarse["milenas_cosine"] == fine["milenas_cosine"]   # first-order directions do not depend on ε
    assert fine["xi"] == 0.0125
