"""milenas_lib: a reproduction kit for MiLeNAS (mixed-level NAS).

Folders follow the architecture: ``space`` (operations, genotypes, supernet),
``networks`` (evaluation networks and their counts), ``data`` (CIFAR-10,
splits, tensor augmentation), ``algorithms`` (update rules), ``loops``
(search and evaluation loops), ``records`` (provenance, atomic files,
checkpoints) and ``plots``.
"""
__version__ = "0.1.0"
