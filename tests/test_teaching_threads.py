"""The teaching helpers step their tiny supernet on one CPU thread (more threads only slow
thousands of tiny ops down) and give the kernel its own setting back afterwards."""
from __future__ import annotations

import torch

from milenas_lib.experiments.teaching import TeachingLab


def test_the_lab_steps_on_one_thread_and_restores_the_kernels_setting():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        lab = TeachingLab(steps=1, batch_size=4)
        seen: list[int] = []
        lab.model.register_forward_hook(lambda *args: seen.append(torch.get_num_threads()))
        train, val = lab.batches[0]
        g_alpha, g_w = lab.gradients(train)
        lab.step_w(g_w)
        lab.step_alpha(g_alpha)
        lab.record(train, val)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
        assert TeachingLab(steps=1, batch_size=4, threads=None).threads is None  # the unpinned way, for timing
    finally:
        torch.set_num_threads(before)
