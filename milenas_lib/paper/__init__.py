"""The paper's content: what MiLeNAS claims and how our runs are set beside it.

Below both the notebook runtime (:mod:`milenas_lib.experiments`) and the figures
(:mod:`milenas_lib.plots`), it reads only the lower layers (the method registry,
configs, the search space and network sizes): never runs, files or the notebooks.
One module per part:

* :mod:`.settings`: the paper's search settings, the curves of its figures (method, λ, label, colour);
* :mod:`.quoted`: every number quoted from the paper (figures, Tables 1 and 2);
* :mod:`.frames`: run records as tidy frames, mean ± std, smoothing, last epoch;
* :mod:`.figure_checks`: each figure's claims checked on the last epoch of our runs (notebooks 2-4);
* :mod:`.claims`: the claims as gated, paired effects with Holm-corrected intervals and computed verdicts
  (notebook 10; :mod:`.claims_report` words them, :mod:`.stats` holds the t distribution and Holm);
* :mod:`.tables`: Tables 1 and 2, ours beside the quoted rows;
* :mod:`.labels`: where numbers come from, in words (figure titles, data source, n).

Import the module you need (``from milenas_lib.paper.settings import SETTINGS``): the package
itself imports none of them, so the figures can read the settings without loading the frames.
"""
