"""The two loops: architecture search (``search``: every update rule through
one loop, per-epoch records, checkpoints and resume) and evaluation
(``train``, with its data, step and torchrun/DDP helpers: train a genotype's
network from scratch)."""
