"""Studies: a paper's grid of arms as one command, reported as the paper's
tables and figures (He et al. 2019; Zoph et al. 2020).

One concern per module: :mod:`.schema` (the study config format),
:mod:`.validate` and :mod:`.grid` (its validation, grid arms),
:mod:`.plan` (runs, their configs and launch commands), :mod:`.state`
(``study.json``), :mod:`.slurm` (sbatch / squeue / sacct),
:mod:`.runner` (running and resuming), :mod:`.status`, :mod:`.metrics`
(``scalars.json``), :mod:`.results` (per-run numbers and cost),
:mod:`.tables`, :mod:`.verdict` (verdicts on the paper's claims),
:mod:`.plots`, :mod:`.quality` (pseudo labels against hidden ground
truth), :mod:`.report` (``report.md``). Nothing here is registered:
``tools/study.py`` imports it.
"""
from .plan import LAUNCHERS, Launcher, plan_runs
from .quality import pseudo_label_quality
from .report import write_report
from .runner import run_study
from .schema import Study, StudyConfigError
from .status import format_status, study_status
from .validate import load_study

__all__ = [
    'LAUNCHERS', 'Launcher', 'Study', 'StudyConfigError', 'format_status',
    'load_study', 'plan_runs', 'pseudo_label_quality', 'run_study',
    'study_status', 'write_report'
]
