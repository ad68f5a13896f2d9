"""What a run leaves on disk and how it gets there: the run directory (lock,
resume, commit, failure), the run identity, atomic files and checkpoints,
which records to believe (trust: checkpoint, digest, folder identity),
disk-space and single-writer guards, provenance and RNG state."""
