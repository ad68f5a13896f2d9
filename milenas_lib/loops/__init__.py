"""The two loops: architecture search (``searcher``: every update rule through
one loop, per-epoch records) and evaluation (``train``, with its data, step
and torchrun/DDP helpers: train a genotype's network from scratch), both run
in their folders by one driver (``driver``: resume, checkpoints, signals,
progress; ``search.run_search`` and ``train.run_training``)."""
