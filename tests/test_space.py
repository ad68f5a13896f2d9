"""The search space: operations, genotypes, supernet and derivation."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, strategies as st

from milenas_lib.space import GENOTYPES, OPS, PRIMITIVES, Genotype, GenotypeError, make_op, resolve_genotype
from milenas_lib.space.genotype import derive_cell
from milenas_lib.space.supernet import NUM_EDGES, Supernet

DARTS_ORDER = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
               "dil_conv_3x3", "dil_conv_5x5")


def test_primitives_in_the_guide_order():
    assert PRIMITIVES == DARTS_ORDER == tuple(OPS)


@pytest.mark.parametrize("name", PRIMITIVES)
@pytest.mark.parametrize("stride", [1, 2])
def test_every_op_keeps_channels_and_sets_resolution(name, stride):
    x = torch.randn(2, 6, 8, 8)
    assert make_op(name, 6, stride).train()(x).shape == (2, 6, 8 // stride, 8 // stride)


def test_unknown_op_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid operations are: none, max_pool_3x3"):
        make_op("conv_7x7", 4, 1)


def test_supernet_keeps_alphas_apart_from_weights():
    model = Supernet(C=16, layers=8)
    assert sum(a.numel() for a in model.alphas()) == 224 == 2 * NUM_EDGES * len(PRIMITIVES)
    assert sum(p.numel() for p in model.weights()) == 1_930_618  # docs/PROTOCOL.md "Search", α not counted
    assert {id(a) for a in model.alphas()}.isdisjoint(id(p) for p in model.weights())
    assert {"alpha_normal", "alpha_reduce"} <= set(model.state_dict())  # checkpointed
    assert Supernet(C=4, layers=5)(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_derivation_on_hand_set_alphas():
    alpha = torch.zeros(NUM_EDGES, len(PRIMITIVES))
    op = PRIMITIVES.index
    # node 2 (edges 0,1): sep3 on input 1 strongest, then skip on input 0
    alpha[1, op("sep_conv_3x3")] = 5
    alpha[0, op("skip_connect")] = 3
    # node 3 (edges 2,3,4): `none` is strongest everywhere but never chosen
    alpha[2:5, op("none")] = 9
    alpha[4, op("dil_conv_5x5")] = 4
    alpha[3, op("max_pool_3x3")] = 2
    # node 4 (edges 5..8) and node 5 (edges 9..13)
    alpha[8, op("avg_pool_3x3")] = 3
    alpha[6, op("sep_conv_5x5")] = 2
    alpha[13, op("dil_conv_3x3")] = 6
    alpha[9, op("skip_connect")] = 1
    # each node lists its stronger edge first, as DARTS does
    assert derive_cell(alpha) == (
        ("sep_conv_3x3", 1), ("skip_connect", 0),
        ("dil_conv_5x5", 2), ("max_pool_3x3", 1),
        ("avg_pool_3x3", 3), ("sep_conv_5x5", 1),
        ("dil_conv_3x3", 4), ("skip_connect", 0),
    )


def test_registry_holds_the_seven_genotypes_of_the_guide():
    assert set(GENOTYPES) == {"DARTS_V1", "DARTS_V2", "MILENAS_2_34", "MILENAS_2_50", "MILENAS_2_80",
                              "MILENAS_2_76", "MILENAS_GUMBEL"}
    assert GENOTYPES["DARTS_V2"].conv_counts == (6, 0)
    assert GENOTYPES["MILENAS_2_34"].conv_counts == (7, 3)


@pytest.mark.parametrize("name", sorted(GENOTYPES))
def test_genotype_round_trips(name, tmp_path):
    genotype = GENOTYPES[name]
    assert Genotype.from_json(genotype.to_json()) == genotype
    assert Genotype.from_text(str(genotype)) == genotype
    path = tmp_path / "g.json"
    path.write_text(genotype.to_json())
    assert resolve_genotype(str(path)) == genotype


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["normal"].pop(), "needs 8 edges"),
    (lambda d: d["normal"].__setitem__(0, ["conv_9x9", 0]), "unknown operation 'conv_9x9'"),
    (lambda d: d["normal"].__setitem__(0, ["none", 0]), "unknown operation 'none'"),
    (lambda d: d["reduce"].__setitem__(2, ["skip_connect", 3]), "must be an integer in 0..2"),
    (lambda d: d["reduce"].__setitem__(0, ["skip_connect", -1]), "must be an integer in 0..1"),
    (lambda d: d.pop("reduce"), 'needs the keys "normal" and "reduce"'),
])
def test_invalid_genotypes_are_refused_with_the_reason(edit, message):
    data = GENOTYPES["DARTS_V2"].to_dict()
    edit(data)
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_dict(data)


def test_malformed_json_and_unknown_names():
    with pytest.raises(GenotypeError, match="malformed"):
        Genotype.from_json("{normal: [")
    with pytest.raises(GenotypeError, match="valid genotypes are: DARTS_V1, DARTS_V2"):
        resolve_genotype("DARTS_V3")


edges = st.lists(st.tuples(st.sampled_from(PRIMITIVES[1:]), st.integers(0, 5)), min_size=8, max_size=8)


@given(normal=edges, reduce=edges)
def test_any_valid_cell_round_trips_and_any_invalid_is_refused(normal, reduce):
    valid = all(source < 2 + i // 2 for cells in (normal, reduce) for i, (_, source) in enumerate(cells))
    if not valid:
        with pytest.raises(GenotypeError):
            Genotype(normal=tuple(normal), reduce=tuple(reduce))
        return
    genotype = Genotype(normal=tuple(normal), reduce=tuple(reduce))
    assert Genotype.from_text(genotype.to_text()) == genotype == Genotype.from_json(genotype.to_json())

