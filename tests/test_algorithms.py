"""The update rules against their equations, on a tiny supernet."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from milenas_lib.algorithms import (Batch, GumbelArch, SearchContext, darts_hypergradient, exact_hypergradient,
                                    gradient_agreement, gumbel_temperature, hard_gumbel_softmax, make_rule)
from milenas_lib.config import ConfigError, SearchConfig
from milenas_lib.loops.search import run_search
from milenas_lib.space.supernet import Supernet


def tiny_context(seed: int = 0, dtype: torch.dtype = torch.float32, grad_clip: float = 5.0,
                 C: int = 4, layers: int = 3) -> SearchContext:
    torch.manual_seed(seed)
    model = Supernet(C=C, layers=layers).to(dtype)
    # α well away from uniform so every term of the gradient matters.
    with torch.no_grad():
        for alpha in model.alphas():
            alpha.normal_(0, 0.5)
    w_opt = torch.optim.SGD(model.weights(), 0.05, momentum=0.9, weight_decay=3e-4)
    a_opt = torch.optim.Adam(model.alphas(), 3e-3, betas=(0.5, 0.999), weight_decay=1e-3)
    return SearchContext(model, w_opt, a_opt, grad_clip, lr=0.05)


def tiny_batches(n: int, seed: int = 1, dtype: torch.dtype = torch.float32, size: int = 8) -> list[Batch]:
    gen = torch.Generator().manual_seed(seed)
    return [Batch(torch.randn(6, 3, size, size, generator=gen, dtype=dtype), torch.randint(0, 10, (6,), generator=gen),
                  torch.randn(6, 3, size, size, generator=gen, dtype=dtype), torch.randint(0, 10, (6,), generator=gen))
            for _ in range(n)]


def alpha_trajectory(method: str, steps: int = 3, **config) -> list[torch.Tensor]:
    ctx = tiny_context()
    rule = make_rule(SearchConfig(method=method, **config))
    rule.new_epoch(0, 2)
    trajectory = []
    for batch in tiny_batches(steps):
        rule.step(ctx, batch)
        trajectory.append(torch.cat([a.detach().clone().flatten() for a in ctx.alphas()]))
    return trajectory


def test_milenas_with_lambda_zero_follows_single_level():
    single = alpha_trajectory("single_level")
    mixed = alpha_trajectory("milenas", lam=0.0)
    for s, m in zip(single, mixed):
        assert torch.equal(s, m)
    # ...and λ does matter: λ = 1 leaves that trajectory.
    assert not torch.allclose(alpha_trajectory("milenas", lam=1.0)[-1], single[-1])


@pytest.mark.parametrize("order", ["simultaneous", "alpha_then_w"])
def test_milenas_alpha_gradient_is_train_plus_lambda_val(order):
    lam = 0.37
    ctx = tiny_context()
    batch = tiny_batches(1)[0]
    reference = copy.deepcopy(ctx.model)
    train_grad = torch.autograd.grad(F.cross_entropy(reference(batch.x_train), batch.y_train), reference.alphas())
    val_grad = torch.autograd.grad(F.cross_entropy(reference(batch.x_val), batch.y_val), reference.alphas())
    make_rule(SearchConfig(method="milenas", lam=lam, order=order)).step(ctx, batch)
    # step_alphas leaves the direction it stepped along in α.grad.
    for alpha, g_tr, g_val in zip(ctx.alphas(), train_grad, val_grad):
        torch.testing.assert_close(alpha.grad, g_tr + lam * g_val, rtol=1e-5, atol=1e-7)


def test_w_then_alpha_takes_the_alpha_step_at_the_new_w():
    """Algorithm 1: w steps first; α then descends ∇α L_tr + λ ∇α L_val at the new w, not the old one."""
    lam = 0.37
    ctx = tiny_context()
    batch = tiny_batches(1)[0]
    rule = make_rule(SearchConfig(method="milenas", lam=lam, order="w_then_alpha"))
    stepped_w = copy.deepcopy(ctx)
    rule.descend_w(stepped_w, batch)  # the same w step alone

    def eq5(model):
        g_tr = torch.autograd.grad(F.cross_entropy(model(batch.x_train), batch.y_train), model.alphas())
        g_val = torch.autograd.grad(F.cross_entropy(model(batch.x_val), batch.y_val), model.alphas())
        return [t + lam * v for t, v in zip(g_tr, g_val)]

    at_old_w = eq5(copy.deepcopy(ctx.model))
    at_new_w = eq5(copy.deepcopy(stepped_w.model))
    rule.step(ctx, batch)
    for alpha, new, old in zip(ctx.alphas(), at_new_w, at_old_w):
        torch.testing.assert_close(alpha.grad, new, rtol=1e-5, atol=1e-7)
        assert not torch.allclose(alpha.grad, old, rtol=1e-5, atol=1e-7)
    for p, q in zip(ctx.model.weights(), stepped_w.model.weights()):
        torch.testing.assert_close(p, q)


def test_simultaneous_order_uses_one_point_for_w_and_alpha():
    """w's gradient in the simultaneous step is ∇w L_tr at the *old* α."""
    ctx = tiny_context(grad_clip=1e9)
    batch = tiny_batches(1)[0]
    reference = copy.deepcopy(ctx.model)
    w_grad = torch.autograd.grad(F.cross_entropy(reference(batch.x_train), batch.y_train), list(reference.weights()))
    make_rule(SearchConfig(method="milenas")).step(ctx, batch)
    for p, g in zip(ctx.model.weights(), w_grad):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-7)


def test_gradient_clipping_acts_on_w_never_on_alpha():
    clip = 1e-4
    ctx = tiny_context(grad_clip=clip)
    batch = tiny_batches(1)[0]
    reference = copy.deepcopy(ctx.model)
    g = torch.autograd.grad(F.cross_entropy(reference(batch.x_train), batch.y_train)
                            + F.cross_entropy(reference(batch.x_val), batch.y_val), reference.alphas())
    make_rule(SearchConfig(method="milenas", lam=1.0)).step(ctx, batch)
    w_norm = torch.sqrt(sum((p.grad ** 2).sum() for p in ctx.model.weights()))
    alpha_norm = torch.sqrt(sum((a.grad ** 2).sum() for a in ctx.alphas()))
    assert w_norm <= clip * 1.001
    assert alpha_norm > 10 * clip
    torch.testing.assert_close(alpha_norm, torch.sqrt(sum((t ** 2).sum() for t in g)), rtol=1e-5, atol=0)


@pytest.fixture(scope="module")
def hypergradients():
    """DARTS' finite-difference hypergradient (at DARTS' ε and at a small ε)
    and the exact one by double backward, in float64."""
    ctx = tiny_context(dtype=torch.float64)
    batch = tiny_batches(1, dtype=torch.float64)[0]
    # Give the momentum buffer a value, so the unroll must include it.
    make_rule(SearchConfig(method="darts_1st")).step(ctx, batch)
    args = (ctx, batch.x_train, batch.y_train, batch.x_val, batch.y_val, 0.05)
    return {"small_eps": darts_hypergradient(*args, epsilon_scale=1e-6),
            "darts_eps": darts_hypergradient(*args), "exact": exact_hypergradient(*args)}


def test_finite_difference_hypergradient_matches_double_backward(hypergradients):
    """With a small ε the central difference converges to the exact mixed
    second derivative: this pins the unroll (momentum, weight decay), the
    direction v, the 1/2ε and the sign of Eq. 7."""
    approx, exact = hypergradients["small_eps"], hypergradients["exact"]
    for a, e in zip(approx.direct, exact.direct):
        torch.testing.assert_close(a, e, rtol=1e-7, atol=1e-10)
    second = gradient_agreement(approx.second_order, exact.second_order)
    assert second["relative_error"] < 1e-5, second
    assert gradient_agreement(approx.total, exact.total)["relative_error"] < 1e-6


def test_darts_epsilon_gives_a_finite_but_biased_estimate(hypergradients):
    """At DARTS' ε = 0.01/‖v‖ the difference straddles ReLU and max-pool kinks:
    the estimate keeps its scale but departs from the true gradient (the
    paper's gradient-error argument, measured in notebook 8)."""
    approx, exact = hypergradients["darts_eps"], hypergradients["exact"]
    agreement = gradient_agreement(approx.second_order, exact.second_order)
    assert all(torch.isfinite(t).all() for t in approx.total)
    assert agreement["relative_error"] > 1e-3 and 0.1 < agreement["norm_ratio"] < 100


def test_broken_finite_difference_is_detected(hypergradients):
    """The agreement measure discriminates: a sign error or a missing 1/2 fails it."""
    approx, exact = hypergradients["small_eps"], hypergradients["exact"]
    flipped = gradient_agreement([-t for t in approx.second_order], exact.second_order)
    unscaled = gradient_agreement([2 * t for t in approx.second_order], exact.second_order)
    assert flipped["cosine"] < -0.99
    assert unscaled["relative_error"] > 0.5


def test_hard_gumbel_sample_is_one_hot_with_straight_through_gradient():
    alpha = torch.randn(14, 8, requires_grad=True)
    weights, index = hard_gumbel_softmax(alpha, tau=1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(weights.detach().sum(-1), torch.ones(14))
    assert torch.equal((weights.detach() != 0).sum(-1), torch.ones(14, dtype=torch.long))
    assert torch.equal(weights.detach().argmax(-1), index)
    (weights * torch.randn(14, 8)).sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0


def test_gdas_computes_exactly_one_op_per_edge():
    torch.manual_seed(0)
    model = Supernet(C=4, layers=3)
    sampler = GumbelArch(10.0, 0.1, seed=0)
    calls: list[int] = []
    hooks = [op.register_forward_hook(lambda m, i, o: calls.append(1))
             for cell in model.cells for edge in cell.edges for op in edge.ops]
    model(torch.randn(2, 3, 8, 8), sampler.train_arch(model))
    for hook in hooks:
        hook.remove()
    assert len(calls) == len(model.cells) * 14


def test_tau_reaches_its_minimum_on_the_last_epoch():
    epochs = 7
    taus = [gumbel_temperature(e, epochs, 10.0, 0.1) for e in range(epochs)]
    assert taus[0] == 10.0 and taus[-1] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(taus, taus[1:]))
    sampler = GumbelArch(10.0, 0.1, seed=0)
    sampler.new_epoch(epochs - 1, epochs)
    assert sampler.tau == pytest.approx(0.1)


@pytest.mark.parametrize("epochs, switch_at", [(50, 35), (200, 140), (10, 7), (2, 1)])
def test_switch_epoch_is_a_fraction_of_the_search(epochs, switch_at):
    """35 of the paper's 50 epochs bilevel (§3.2) is 0.7 of any search, rounded half up."""
    config = SearchConfig(method="switch", epochs=epochs)
    assert (config.switch_fraction, config.switch_at) == (0.7, switch_at)
    rule = make_rule(config)
    rule.new_epoch(switch_at - 1, epochs)
    assert rule.describe()["phase"] == "darts_2nd" and rule.passes == 5
    rule.new_epoch(switch_at, epochs)
    assert rule.describe()["phase"] == "milenas" and rule.passes == 2


def test_an_absolute_switch_epoch_overrides_the_fraction():
    assert SearchConfig(method="switch", epochs=50, switch_epoch=20, switch_fraction=0.9).switch_at == 20
    assert SearchConfig(method="milenas").switch_at is None
    for bad in (dict(epochs=10, switch_epoch=10), dict(epochs=1), dict(epochs=10, switch_fraction=1.0)):
        with pytest.raises(ConfigError):
            SearchConfig(method="switch", **bad)


@pytest.mark.slow
def test_a_ten_epoch_switch_search_runs_bilevel_then_milenas(tmp_path):
    """Default settings, 10 epochs: DARTS-2nd for epochs 0-6, MiLeNAS from 7;
    every epoch record names the rule it ran, the record both switch values."""
    config = SearchConfig(method="switch", epochs=10, dataset="synthetic", C=4, layers=3, batch_size=10,
                          per_class=1, num_threads=1)  # one step of 10 images per epoch
    record = run_search(config, tmp_path / "switch", progress=False).record
    assert [e["phase"] for e in record["epochs"]] == ["darts_2nd"] * 7 + ["milenas"] * 3
    assert record["config"]["switch_fraction"] == 0.7 and record["switch_at"] == 7


@pytest.mark.parametrize("method", ["milenas", "darts_2nd"])
def test_channels_last_fast_path_computes_the_same_step(method):
    """NHWC is a layout change only: one step agrees with the plain NCHW float32
    step to float32 round-off (different oneDNN kernels sum in another order)."""
    results = []
    for layout in (torch.contiguous_format, torch.channels_last):
        ctx = tiny_context()
        ctx.model.to(memory_format=layout)
        batch = tiny_batches(1)[0]
        batch = Batch(batch.x_train.contiguous(memory_format=layout), batch.y_train,
                      batch.x_val.contiguous(memory_format=layout), batch.y_val)
        make_rule(SearchConfig(method=method)).step(ctx, batch)
        results.append(torch.cat([p.detach().flatten() for p in ctx.model.parameters()]))
    torch.testing.assert_close(results[1], results[0], rtol=1e-4, atol=1e-5)


def test_bf16_autocast_step_stays_close_to_float32():
    """bf16 changes precision, not the maths: the α and w directions of one
    MiLeNAS step keep cosine > 0.95 with the float32 ones (bf16 keeps ~3
    significant digits per op, so elementwise errors of 10-20% occur)."""
    grads = []
    for bf16 in (False, True):
        ctx = tiny_context(grad_clip=1e9)
        ctx.bf16 = bf16
        make_rule(SearchConfig(method="milenas")).step(ctx, tiny_batches(1)[0])
        grads.append((torch.cat([a.grad.flatten() for a in ctx.alphas()]),
                      torch.cat([p.grad.flatten() for p in ctx.model.weights()])))
    (alpha32, w32), (alpha16, w16) = grads
    assert F.cosine_similarity(alpha32, alpha16, dim=0) > 0.95
    assert F.cosine_similarity(w32, w16, dim=0) > 0.95
