"""Run state shared by the search and training loops: RNG capture/restore,
finiteness of a model's state, and whether a device computes deterministically."""
from __future__ import annotations

import torch


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def all_finite(model: torch.nn.Module) -> bool:
    """Whether every weight, α and batch-norm statistic is finite (a non-finite
    gradient shows here after the step)."""
    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point())


def is_deterministic(device: torch.device) -> bool:
    """CPU kernels are deterministic; on a GPU only when torch is told to be."""
    if device.type == "cpu":
        return True
    return torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
