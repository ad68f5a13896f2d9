import torch

# Supernets are thousands of tiny ops: on a small machine, oversubscribed
# OpenMP threads make them many times slower (docs/PERFORMANCE.md).
torch.set_num_threads(1)
