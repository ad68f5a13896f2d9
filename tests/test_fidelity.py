"""Choices that decide how closely a run follows what the paper ran
(docs/PROTOCOL.md, "Fidelity choices"): weight decay and momentum on unsampled
weights, the Gumbel gradient estimator, the order of a node's edges and the
mult-add convention."""
from __future__ import annotations

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from milenas_lib.algorithms import Batch, GumbelArch, SearchContext, make_rule
from milenas_lib.config import GUMBEL_ESTIMATORS, ConfigError, SearchConfig
from milenas_lib.networks import count_mult_adds
from milenas_lib.networks.cell import Cell
from milenas_lib.networks.imagenet import NetworkImageNet
from milenas_lib.space import GENOTYPES, PRIMITIVES
from milenas_lib.space.genotype import derive_genotype
from milenas_lib.space.supernet import NUM_EDGES, MixedOp, Supernet

TINY = dict(C=4, layers=3, epochs=2, channels_last=False)


def tiny_batch(seed: int, n: int = 4, size: int = 8) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, 3, size, size, generator=gen), torch.randint(0, 10, (n,), generator=gen),
                 torch.randn(n, 3, size, size, generator=gen), torch.randint(0, 10, (n,), generator=gen))


def cell_conv_weights(ctx: SearchContext) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in ctx.model.named_weights()
            if name.startswith("cells.") and p.dim() == 4}


def gumbel_step_pair(method: str, zero_fill: bool) -> tuple[SearchContext, dict, dict, dict]:
    """Two steps of a Gumbel rule; the weights, SGD state and lr around the second."""
    torch.manual_seed(0)
    config = SearchConfig(method=method, **TINY)
    ctx = SearchContext.from_config(config)
    rule = make_rule(config)
    rule.sampler.zero_fills_weight_grads = zero_fill
    rule.new_epoch(0, config.epochs)
    rule.step(ctx, tiny_batch(1))
    before = cell_conv_weights(ctx)
    state = copy.deepcopy(ctx.w_optimizer.state_dict())
    rule.step(ctx, tiny_batch(2))
    return ctx, before, cell_conv_weights(ctx), state


# -- unsampled weights keep momentum and weight decay ----------------------

@pytest.mark.parametrize("method", ["gdas", "milenas_gumbel"])
def test_gumbel_step_moves_every_weight_by_momentum_and_decay(method):
    ctx, before, after, state = gumbel_step_pair(method, zero_fill=True)
    frozen = [name for name in before if torch.equal(before[name], after[name])]
    assert not frozen, f"{len(frozen)} of {len(before)} cell conv weights did not move"
    group = ctx.w_optimizer.param_groups[0]
    lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
    index = {name: i for i, (name, _) in enumerate(ctx.model.named_weights())}
    unsampled = [name for name, p in ctx.model.named_weights()
                 if name in before and not p.grad.any()]
    assert unsampled  # most ops were not sampled in this step
    for name in unsampled:
        # SGD with a zero gradient: buf ← μ·buf + wd·w ; w ← w − lr·buf
        old_buffer = state["state"][index[name]]["momentum_buffer"]
        expected = before[name] - lr * (momentum * old_buffer + decay * before[name])
        torch.testing.assert_close(after[name], expected)


def test_without_zero_fill_unsampled_weights_freeze():
    """The failure the zero fill prevents (SGD skips a parameter whose grad is None)."""
    _, before, after, _ = gumbel_step_pair("gdas", zero_fill=False)
    frozen = sum(torch.equal(before[name], after[name]) for name in before)
    assert frozen > len(before) // 2


def test_softmax_rules_need_no_zero_fill():
    torch.manual_seed(0)
    config = SearchConfig(method="milenas", **TINY)
    ctx = SearchContext.from_config(config)
    rule = make_rule(config)
    assert not rule.sampler.zero_fills_weight_grads
    rule.step(ctx, tiny_batch(1))
    assert all(p.grad is not None for p in ctx.model.weights())


# -- the Gumbel gradient estimator -----------------------------------------

def estimator_gradients(seed: int = 0, tau: float = 10.0
                        ) -> tuple[dict[str, tuple[float, torch.Tensor, torch.Tensor]], torch.Tensor]:
    """Loss, ∇α and ∇(hard weights of the normal cell) of one sample under each
    estimator, and the normal cell's sampled op per edge."""
    torch.manual_seed(seed)
    model = Supernet(C=4, layers=3)
    with torch.no_grad():
        for alpha in model.alphas():
            alpha.normal_(0, 0.5)
    batch = tiny_batch(seed + 100)
    results = {}
    for estimator in GUMBEL_ESTIMATORS:
        arch = GumbelArch(tau, tau, seed=seed, estimator=estimator).train_arch(model)
        arch.normal.retain_grad()
        loss = F.cross_entropy(model(batch.x_train, arch), batch.y_train)
        loss.backward(inputs=[*model.alphas(), arch.normal])
        results[estimator] = (float(loss.detach()), torch.cat([a.grad.flatten() for a in model.alphas()]),
                              arch.normal.grad.clone())
        model.zero_grad(set_to_none=True)
    return results, arch.normal_index


def test_estimators_share_the_forward_and_differ_in_the_gradient():
    results, index = estimator_gradients()
    losses = {loss for loss, _, _ in results.values()}
    assert len(losses) == 1  # every unsampled op enters with value 0
    for _, alpha_grad, _ in results.values():
        assert torch.isfinite(alpha_grad).all() and alpha_grad.abs().sum() > 0
    sampled = F.one_hot(index, len(PRIMITIVES)).bool()
    none = PRIMITIVES.index("none")
    # sampled_only: the unsampled weights are not in the graph at all
    assert not results["sampled_only"][2][~sampled].any()
    # sampled_scalar: each unsampled weight of an edge gets the same Σ ∂L/∂node
    scalar = results["sampled_scalar"][2]
    for edge in range(NUM_EDGES):
        others = scalar[edge][~sampled[edge]]
        torch.testing.assert_close(others, others[:1].expand_as(others))
    # straight_through: ⟨∂L/∂node, o_k(x)⟩ differs between ops (none outputs 0)
    full = results["straight_through"][2]
    assert not full[:, none][~sampled[:, none]].any()
    assert full[~sampled].abs().sum() > 0 and not torch.equal(full, scalar)
    cosines = [F.cosine_similarity(results[a][1], results[b][1], dim=0)
               for a, b in itertools.combinations(GUMBEL_ESTIMATORS, 2)]
    assert all(torch.isfinite(c) and c < 0.99 for c in cosines), cosines


@pytest.mark.parametrize("estimator", GUMBEL_ESTIMATORS)
def test_the_configured_estimator_is_the_one_that_runs_and_is_recorded(estimator):
    torch.manual_seed(0)
    config = SearchConfig(method="milenas_gumbel", gumbel_estimator=estimator, **TINY)
    ctx = SearchContext.from_config(config)
    rule = make_rule(config)
    calls: list[tuple[bool, bool]] = []  # (one op only, other weights as scalars)
    hooks = [op.register_forward_pre_hook(lambda m, args: calls.append((args[2] is not None, args[3])))
             for op in ctx.model.modules() if isinstance(op, MixedOp)]
    rule.new_epoch(0, config.epochs)
    rule.step(ctx, tiny_batch(1))
    for hook in hooks:
        hook.remove()
    expected = {"sampled_only": (True, False), "sampled_scalar": (True, True),
                "straight_through": (False, False)}[estimator]
    assert calls and set(calls) == {expected}
    assert rule.describe()["gumbel_estimator"] == estimator
    assert config.to_dict()["gumbel_estimator"] == estimator


def test_default_estimator_is_the_authors_and_unknown_names_are_refused():
    assert SearchConfig().gumbel_estimator == "sampled_only" == GUMBEL_ESTIMATORS[0]
    with pytest.raises(ConfigError, match="valid gumbel_estimators are: sampled_only"):
        SearchConfig(method="gdas", gumbel_estimator="reinforce")


# -- derived genotypes list the stronger edge first (DARTS) ----------------

def darts_parse(alpha: torch.Tensor) -> list[tuple[str, int]]:
    """DARTS' own derivation, written out independently: per node the two
    inputs with the strongest non-none op, strongest first."""
    weights = F.softmax(alpha, dim=-1).tolist()
    none = PRIMITIVES.index("none")
    gene, start = [], 0
    for node in range(4):
        rows = weights[start:start + node + 2]
        strength = [max(w for k, w in enumerate(row) if k != none) for row in rows]
        for j in sorted(range(node + 2), key=lambda j: -strength[j])[:2]:
            best = max((k for k in range(len(PRIMITIVES)) if k != none), key=lambda k: rows[j][k])
            gene.append((PRIMITIVES[best], j))
        start += node + 2
    return gene


@pytest.mark.parametrize("seed", range(3))
def test_derivation_matches_darts_on_random_alphas(seed):
    gen = torch.Generator().manual_seed(seed)
    normal, reduce = torch.randn(NUM_EDGES, 8, generator=gen), torch.randn(NUM_EDGES, 8, generator=gen)
    genotype = derive_genotype(normal, reduce)
    assert list(genotype.normal) == darts_parse(normal) and list(genotype.reduce) == darts_parse(reduce)


def hand_set_alpha(edges: tuple[tuple[str, int], ...]) -> torch.Tensor:
    """α under which each node's first listed edge is the stronger one."""
    alpha = torch.zeros(NUM_EDGES, len(PRIMITIVES))
    for position, (op, source) in enumerate(edges):
        node = position // 2
        alpha[sum(range(2, node + 2)) + source, PRIMITIVES.index(op)] = 4.0 if position % 2 == 0 else 2.0
    return alpha


@pytest.mark.parametrize("name", sorted(GENOTYPES))
def test_derived_text_matches_the_registered_strongest_first_order(name):
    genotype = GENOTYPES[name]
    derived = derive_genotype(hand_set_alpha(genotype.normal), hand_set_alpha(genotype.reduce))
    assert str(derived) == str(genotype)


# -- mult-add conventions ---------------------------------------------------

def test_all_layers_convention_adds_bn_relu_pooling_by_hand_count():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(3, stride=2, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 5))
    conv_linear = 4 * 8 * 8 * 3 * 9 + 4 * 5
    assert count_mult_adds(model, (3, 8, 8)) == conv_linear
    extra = 256 + 256 + 4 * 4 * 4 * 9 + 4 * 4 * 4  # BN, ReLU, max pool, global pool
    assert count_mult_adds(model, (3, 8, 8), convention="all_layers") == conv_linear + extra
    with pytest.raises(ValueError, match="valid mult-add conventions are: conv_linear, all_layers"):
        count_mult_adds(model, (3, 8, 8), convention="flops")


def test_all_layers_counts_one_addition_per_node_element():
    cell = Cell(GENOTYPES["DARTS_V2"].normal, 8, 8, 4, reduction=False, reduction_prev=False)

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = cell

        def forward(self, x):
            return self.cell(x, x)

    model = TwoInputs()
    difference = (count_mult_adds(model, (8, 6, 6), convention="all_layers")
                  - count_mult_adds(model, (8, 6, 6)))
    elements: list[int] = []  # outputs of every BN and ReLU in the cell
    hooks = [m.register_forward_hook(lambda m, i, o: elements.append(o.numel()))
             for m in cell.modules() if isinstance(m, (nn.BatchNorm2d, nn.ReLU))]
    model.eval()(torch.zeros(1, 8, 6, 6))
    for hook in hooks:
        hook.remove()
    # plus one addition per element of the four node sums (4 nodes x C=4 x 6x6)
    assert difference == sum(elements) + 4 * 4 * 6 * 6


def test_no_convention_reaches_darts_574m():
    """DARTS prints 574M for DARTS_V2 on ImageNet; conv + linear and the
    all-layers count both stay well below it (docs/PROTOCOL.md)."""
    with torch.device("meta"):
        model = NetworkImageNet(48, 1000, 14, auxiliary=True, genotype="DARTS_V2")
    conv_linear = count_mult_adds(model, (3, 224, 224))
    all_layers = count_mult_adds(model, (3, 224, 224), convention="all_layers")
    assert conv_linear < all_layers < 0.95 * 574e6
