"""Classroom assignments: the checks students run, and the teacher's generate/grade tools.

Student notebooks call the checks (``from vaecf.assignments import check_ndcg``). The
teacher's tools (:mod:`vaecf.assignments.tools`) need otter-grader and are imported lazily
by ``python -m vaecf.assignments``.
"""
from .checks import (CheckFailed, check_beta_schedule, check_elbo_loss, check_gaussian,
                     check_kl, check_multinomial, check_multinomial_gradient, check_ndcg,
                     check_recall, check_reparameterise, check_train_step)

__all__ = ["CheckFailed", "check_ndcg", "check_recall", "check_multinomial", "check_gaussian",
           "check_multinomial_gradient", "check_reparameterise", "check_kl",
           "check_beta_schedule", "check_elbo_loss", "check_train_step"]
