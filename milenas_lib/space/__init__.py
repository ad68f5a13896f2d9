"""The DARTS search space: operations, genotypes and the supernet."""
from .genotype import GENOTYPES, Genotype, GenotypeError, resolve_genotype
from .operations import CONV_OPS, OPS, PRIMITIVES, make_op

__all__ = ["CONV_OPS", "GENOTYPES", "Genotype", "GenotypeError", "OPS", "PRIMITIVES", "make_op", "resolve_genotype"]
