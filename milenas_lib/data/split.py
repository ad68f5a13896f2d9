"""The search split: CIFAR-10's training images halved into search-train (w) and search-val (α).

The split is stratified per class rather than "first half / second half"
because the JPEG archive is grouped by class: taking the first 25,000 images
would give the two halves disjoint sets of classes.
"""
from __future__ import annotations

import torch


class DataSizeError(ValueError):
    """The data holds too few images for a setting (a batch, a per-class count); the message names the fix."""


def check_disjoint(first: torch.Tensor, second: torch.Tensor) -> None:
    """Raise ValueError when two index sets share an element (data leaking between halves)."""
    shared = first[torch.isin(first, second)]
    if shared.numel():
        raise ValueError(
            f"index sets overlap in {shared.numel()} places (first few: {shared[:5].tolist()}); "
            "search-train and search-val must not share images"
        )


def search_split(
    labels: torch.Tensor, seed: int, per_class: int | None = None, val_per_class: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded, stratified halves of ``labels``' indices: ``(train_idx, val_idx)``, both sorted int64.

    Each class is permuted with a CPU ``torch.Generator`` and cut in two (train
    gets the extra image of an odd-sized class), so 50,000 CIFAR-10 images give
    25,000 / 25,000 with 2,500 of each class per half.  ``per_class`` keeps only
    that many images of each class in each half, for small CPU presets;
    ``val_per_class`` gives search-val its own count (a small train half beside
    a large val half).  Each half is cut from its own end of the permutation,
    so a half's images do not depend on the other half's count.
    """
    labels = torch.as_tensor(labels).cpu()
    if labels.dim() != 1 or labels.numel() == 0:
        raise ValueError(f"labels must be a non-empty 1-d tensor, got shape {tuple(labels.shape)}")
    for name, count in (("per_class", per_class), ("val_per_class", val_per_class)):
        if count is not None and count < 1:
            raise ValueError(f"{name} must be positive or None, got {count}")
    val_count = val_per_class if val_per_class is not None else per_class
    generator = torch.Generator().manual_seed(seed)
    train_parts, val_parts = [], []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(members.numel(), generator=generator)]
        val_size = members.numel() // 2
        train_size = members.numel() - val_size
        for name, count, where in (("per_class", per_class, "each half"),
                                   ("val_per_class", val_per_class, "the search-val half")):
            if count is not None and count > val_size:
                raise DataSizeError(
                    f"class {label} has {members.numel()} images, too few for {count} in {where}; "
                    f"lower {name} to at most {val_size} (--set {name}={val_size})"
                )
        train_size = per_class if per_class is not None else train_size
        val_size = val_count if val_count is not None else val_size
        train_parts.append(members[:train_size])
        val_parts.append(members[-val_size:] if val_size else members[:0])
    train_idx = torch.cat(train_parts).sort().values
    val_idx = torch.cat(val_parts).sort().values
    check_disjoint(train_idx, val_idx)
    return train_idx, val_idx
