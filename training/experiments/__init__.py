"""The experiments users come for, each one command (``pianohands experiment ...``):

* ``fingering_vs_human``: train (or load) an OT agent, read out the fingering it learned and
  compare it with every human annotator of the piece (match rates, finger usage, piano roll,
  confusion, and which human choices the robot hand cannot reach);
* ``cross_embodiment``: the same song chunk and budget for several hands, F1 with 95% CI;
* ``fig2``: RP1M's Fig. 2, F1 against environment steps for OT vs human vs no fingering.

Every experiment writes ``runs/<name>/`` (``experiment.json``, ``experiment.log``, one
trainer run per arm and seed, PNG plots, ``summary.json``) and resumes when run again.
Shared machinery: ``budget`` (the Budget every experiment is given), ``common`` (run
bookkeeping, final evaluation, the arms runner), ``stats`` and ``plots``.
"""
