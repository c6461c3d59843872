"""Classroom assignments: the checks students run, and the teacher's generate/grade tools.

Student notebooks call the checks (``from vaecf.assignments import check_ndcg``). The
teacher's tools are imported lazily by ``python -m vaecf.assignments``: generating the
student notebooks (:mod:`vaecf.assignments.tools`) needs otter-grader; grading
(:mod:`vaecf.assignments.grading`) runs each submission in a bubblewrap sandbox
(:mod:`~vaecf.assignments.sandbox`, :mod:`~vaecf.assignments.sandbox_driver`) and judges
the answers it returns in the grader's own process.
"""
from .checks import (CheckFailed, check_beta_schedule, check_elbo_loss, check_gaussian,
                     check_kl, check_multinomial, check_multinomial_gradient, check_ndcg,
                     check_recall, check_reparameterise, check_train_step)

__all__ = ["CheckFailed", "check_ndcg", "check_recall", "check_multinomial", "check_gaussian",
           "check_multinomial_gradient", "check_reparameterise", "check_kl",
           "check_beta_schedule", "check_elbo_loss", "check_train_step"]
