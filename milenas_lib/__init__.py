"""milenas_lib: a reproduction kit for MiLeNAS (mixed-level NAS).

Folders follow the architecture: ``space`` (operations, genotypes, supernet),
``networks`` (evaluation networks and their counts), ``data`` (CIFAR-10,
splits, tensor augmentation), ``algorithms`` (update rules), ``loops``
(search and evaluation loops), ``records`` (provenance, atomic files,
checkpoints) and ``plots``.  Two leaf modules hold what every layer reads:
``names`` (the shared name tuples) and ``registry`` (each search method's name
and facts; its builder lives in ``algorithms``).
"""
__version__ = "0.1.0"
