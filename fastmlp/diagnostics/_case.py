"""What diagnose knows about one learner's network: their arrays, their canonical twins and the truth."""

from dataclasses import dataclass, field

import numpy as np

from fastmlp import reference
from fastmlp.diagnostics._learner import defined_at
from fastmlp.diagnostics._report import Finding

FORWARD_RTOL = {np.float64: 1e-6, np.float32: 1e-3}
GRADIENT_TOL = {np.float64: 1e-6, np.float32: 1e-3}


@dataclass
class Case:
    """Everything diagnose knows about the learner's network, in both layouts."""

    structure: object
    layout: object
    params: object  # the learner's own object, never written to
    X: object  # the learner's X and Y, as given
    Y: object
    activation: str
    output: str
    loss: str
    lr: float
    weights: list  # canonical float64 (n_in, n_out)
    biases: list  # canonical float64 (n_out,), zeros where the learner has none
    Xc: np.ndarray  # canonical (n, n_in)
    labels: np.ndarray
    dtype: type
    findings: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # what one check tells a later one

    @property
    def n(self):
        return len(self.Xc)

    @property
    def sizes(self):
        return self.layout.sizes

    def truth(self):
        """The float64 reference network holding the learner's parameters."""
        return reference.MLP.from_parameters(self.weights, self.biases, self.activation, self.output, self.loss)

    def true_pass(self):
        """(pre-activations [z1, ...], activations [X, a1, ..., out]) of the true network."""
        if "pass" not in self.facts:
            table = reference.ACTIVATION_FUNCTIONS[self.activation]
            pre, acts = [], [self.Xc]
            with np.errstate(all="ignore"):
                for layer, (W, b) in enumerate(zip(self.weights, self.biases)):
                    pre.append(acts[-1] @ W + b)
                    last = layer == len(self.weights) - 1
                    acts.append(output_activation(self.output, pre[-1]) if last else table.f(pre[-1]))
            self.facts["pass"] = (pre, acts)
        return self.facts["pass"]

    def true_gradients(self):
        """[(dW, db), ...] of the mean loss, canonical."""
        if "grads" not in self.facts:
            with np.errstate(all="ignore"):
                self.facts["grads"] = self.truth().loss_and_gradients(self.Xc, self.labels)[1]
        return self.facts["grads"]

    def copy_params(self):
        return self.structure.copy(self.params)

    def learner_X(self):
        return np.array(self.X, copy=True)

    def learner_Y(self):
        return np.array(self.Y, copy=True)

    def add(self, code, where, message, fix="", severity="error"):
        self.findings.append(Finding(code, severity, message, fix, where))

    def slot_label(self, slot):
        return slot.label


def output_activation(output, z):
    return reference.softmax(z) if output == "softmax" else reference.sigmoid(z)


def where(role, fn):
    """'backprop, net.py:37' (and the function's name when it is not the role's): for Finding.where."""
    name, place = defined_at(fn)
    if not place:
        return role
    return f"{role}, {place}" + (f" {name}()" if name not in (role, "<lambda>") else "")


def as_canonical(case, value, what):
    """A learner's (n, width) array (or one sample's vector) as a canonical (n, width) float64 array,
    or raise ValueError saying what its shape is."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} is {type(value).__name__} of dtype {arr.dtype}, not numbers")
    arr = arr.astype(np.float64)
    n = case.n
    if len(case.layout.x_shape) == 1 or n == 1:
        if arr.ndim == 1 or (arr.ndim == 2 and 1 in arr.shape):
            return arr.reshape(1, -1)
        raise ValueError(f"{what} has shape {arr.shape} for one sample")
    if arr.ndim == 2:
        if case.layout.rows and arr.shape[0] == n:
            return arr
        if not case.layout.rows and arr.shape[1] == n:
            return arr.T
    raise ValueError(
        f"{what} has shape {arr.shape}; expected one {'row' if case.layout.rows else 'column'} per sample ({n} samples)"
    )
