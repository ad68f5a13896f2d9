"""What a run leaves on disk and how it gets there: the run directory (lock,
resume, commit, failure), the run identity, atomic files and checkpoints,
disk-space and single-writer guards, provenance and RNG state."""
