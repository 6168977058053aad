"""Why does my network not learn? The tools that answer it, one module each.

- :func:`diagnose` takes a learner's own NumPy network -- their arrays in their layout, their
  forward pass, backprop, training step and predict -- and names what is wrong with it, root
  cause first, each finding with the line of NumPy that fixes it.
- :func:`doctor` trains a copy of a ``fastmlp.MLP`` briefly and reports what looks wrong with the
  setup: unscaled inputs, an initial loss far from chance, saturated or dead hidden units, a loss
  that diverges, turns NaN or does not move, vanishing or exploding gradients, constant
  predictions, imbalanced classes.
- :func:`gradcheck` compares a network's gradients with float64 central differences.
- :func:`check_backprop` runs a learner's backpropagation, written in fastmlp's conventions, on a
  small random problem and names, for each parameter, what is wrong with the gradient it returns.

``doctor`` and ``gradcheck`` accept the compiled ``fastmlp.MLP`` and, by duck typing,
``fastmlp.reference.MLP``.
"""

from fastmlp.diagnostics._check_backprop import BackpropReport, check_backprop
from fastmlp.diagnostics._diagnose import DiagnoseReport, diagnose
from fastmlp.diagnostics._doctor import DoctorFinding, DoctorReport, doctor
from fastmlp.diagnostics._gradcheck import GradcheckResult, gradcheck
from fastmlp.diagnostics._gradients import ParamCheck
from fastmlp.diagnostics._report import Finding

__all__ = [
    "diagnose",
    "doctor",
    "gradcheck",
    "check_backprop",
    "Finding",
    "DiagnoseReport",
    "DoctorReport",
    "DoctorFinding",
    "GradcheckResult",
    "ParamCheck",
    "BackpropReport",
]
