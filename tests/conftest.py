import torch

# Supernets are thousands of tiny ops: on a small machine, oversubscribed
# OpenMP threads make them many times slower (docs/PERFORMANCE.md).
torch.set_num_threads(1)


import os

import pytest


@pytest.fixture(autouse=True)
def _environment_restored():
    """A test that runs `reproduce` in this process (e.g. with --download, which points
    MILENAS_DATA_ROOT at its copy for every run it starts) must not change where later tests look."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)
