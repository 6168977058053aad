"""A multilayer perceptron in plain NumPy: the reference twin of ``fastmlp.MLP``.

This module is written for clarity, not speed. It computes exactly what the compiled model
computes -- the same initial weights for the same seed, the same minibatches in the same order,
the same losses, gradients and optimizer updates -- so that the compiled model can be tested
against it step by step, and so that anyone can read how a network is trained, from the forward
pass through backpropagation to the update.

Conventions
-----------
Rows are examples. A layer maps activations ``a`` of shape ``(n, n_in)`` to
``a @ W + b`` of shape ``(n, n_out)``, so ``W`` has shape ``(n_in, n_out)`` and ``b`` has shape
``(n_out,)``. Every loss is the *mean* over the rows of the batch, and every gradient is the
gradient of that mean.

Example
-------
>>> import numpy as np
>>> from fastmlp.reference import MLP
>>> net = MLP([2, 8, 2], seed=0, dtype=np.float64)
>>> X = np.array([[0.0, 0.0], [1.0, 1.0]]); y = np.array([0, 1])
>>> history = net.fit(X, y, epochs=5, batch_size=2)
>>> net.predict(X).shape
(2,)
"""

import numbers
from dataclasses import dataclass

import numpy as np

from fastmlp._dropout import keeps, layer_rates, stream_seed
from fastmlp.callbacks import History, rate_is_logged
from fastmlp.init import initial_parameters, resolve_init
from fastmlp.optim import SGD, Adam

__all__ = [
    "MLP",
    "softmax",
    "sigmoid",
    "one_hot",
    "Activation",
    "ACTIVATION_FUNCTIONS",
    "ACTIVATIONS",
    "OUTPUT_LOSS_PAIRS",
    "regression_scores",
]

OUTPUT_LOSS_PAIRS = (
    ("softmax", "cross_entropy"),
    ("sigmoid", "mse"),
    ("sigmoid", "cross_entropy"),
    ("softmax", "mse"),
)
# Regression: the outputs as they are, against float targets: half the squared error, or
# Huber's loss (squared within HUBER_DELTA of the target, linear beyond)
REGRESSION_PAIRS = (("identity", "mse"), ("identity", "huber"))
HUBER_DELTA = 1.0
LEAKY_SLOPE = 0.01


# ----------------------------------------------------------------------------------------------
# Small functions on arrays
# ----------------------------------------------------------------------------------------------


def softmax(z):
    """Row-wise softmax of logits ``z`` of shape ``(n, k)``, computed without overflow.

    Subtracting each row's maximum leaves the result unchanged (it cancels between numerator
    and denominator) but keeps every ``exp`` argument <= 0, so nothing overflows.
    """
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z):
    """The logistic function ``1 / (1 + exp(-z))``, computed without overflow.

    ``exp(-z)`` overflows for very negative ``z``; writing the formula with ``exp(-|z|)``,
    which lies in (0, 1], gives the same values for every ``z``.
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(z):
    """``log(1 + exp(z))`` without overflow: ``max(z, 0) + log1p(exp(-|z|))``."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def one_hot(y, n_classes, dtype=np.float64):
    """Integer labels ``y`` of shape ``(n,)`` as a one-hot matrix of shape ``(n, n_classes)``."""
    Y = np.zeros((len(y), n_classes), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


# ----------------------------------------------------------------------------------------------
# The hidden activations: the one table every module of fastmlp reads
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """A hidden layer's activation ``f`` and its derivative.

    ``derivative(a)`` is ``f'(z)`` written in terms of the output ``a = f(z)``: every activation
    here can be differentiated from its output alone, so the forward pass keeps only outputs.
    Both keep the dtype of their argument.
    """

    name: str
    f: object
    derivative: object
    auto_init: str  # what init="auto" draws for it: He for the ReLUs, Glorot for the S-curves
    derivative_code: str  # the derivative as a learner writes it, in terms of the output {a}

    def derivative_at(self, z):
        """``f'(z)`` at the pre-activation ``z``."""
        return self.derivative(self.f(z))


ACTIVATION_FUNCTIONS = {
    "relu": Activation("relu", lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(a.dtype), "he", "({a} > 0)"),
    "leaky_relu": Activation(
        "leaky_relu",
        lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
        lambda a: np.where(a > 0, 1, LEAKY_SLOPE).astype(a.dtype),
        "he",
        f"np.where({{a}} > 0, 1, {LEAKY_SLOPE})",
    ),
    "sigmoid": Activation("sigmoid", lambda z: sigmoid(z), lambda a: a * (1 - a), "glorot", "{a} * (1 - {a})"),
    "tanh": Activation("tanh", np.tanh, lambda a: 1 - a * a, "glorot", "(1 - {a} ** 2)"),
}
ACTIVATIONS = tuple(ACTIVATION_FUNCTIONS)


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


class MLP:
    """A fully connected network in plain NumPy, the twin of ``fastmlp.MLP``.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_features, hidden..., n_classes]``: at least two positive ints.
    activation : {"relu", "leaky_relu", "sigmoid", "tanh"}, default "relu"
        Activation of the hidden layers. ``leaky_relu`` has negative slope 0.01.
    output : {"softmax", "sigmoid"}, default "softmax"
        Activation of the output layer.
    loss : {"cross_entropy", "mse", "huber"}, default "cross_entropy"
        With ``output="softmax"``, ``cross_entropy`` is the usual multi-class log loss; with
        ``output="sigmoid"`` it is binary cross-entropy summed over the output units. ``mse``
        is ``0.5 * sum over classes of (out - onehot)**2``. Every loss is averaged over rows.
    init : str or tuple, default "auto"
        ``"auto"`` (He for relu/leaky_relu, Glorot for sigmoid/tanh), ``"he"``, ``"glorot"``
        (alias ``"xavier"``), ``"lecun"``, ``("normal", std)`` or ``("uniform", low, high)``.
        Biases start at zero.
    seed : int or None, default None
        Seeds the generator used for the initial weights and then for shuffling, so the same
        seed gives the same weights and the same minibatches as ``fastmlp.MLP``.
    dtype : {numpy.float32, numpy.float64}, default numpy.float32
        Precision of the parameters and of every computation. Use float64 for checking.
    dropout : float or sequence of float, default 0.0
        As ``fastmlp.MLP``'s: the same seed drops the same units at the same steps.
    max_norm : float or None, default None
        As ``fastmlp.MLP``'s.

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l]`` has shape ``(sizes[l], sizes[l+1])``. These are the live parameters:
        ``fit`` updates them in place, and writing into them changes the model.
    biases : list of ndarray
        ``biases[l]`` has shape ``(sizes[l+1],)``.
    sizes, activation, output, loss, dtype, n_classes
        As given (``sizes`` as a list of int, ``dtype`` as a ``numpy.dtype``).
    history : History or None
        What the last ``fit`` returned.
    """

    def __init__(
        self,
        sizes,
        activation="relu",
        output="softmax",
        loss="cross_entropy",
        init="auto",
        seed=None,
        dtype=np.float32,
        dropout=0.0,
        max_norm=None,
    ):
        self.sizes = _check_sizes(sizes)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: got {activation!r}; expected one of {ACTIVATIONS}")
        if (output, loss) not in OUTPUT_LOSS_PAIRS + REGRESSION_PAIRS:
            raise ValueError(
                f"output, loss: got ({output!r}, {loss!r}); expected one of {OUTPUT_LOSS_PAIRS + REGRESSION_PAIRS}"
            )
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype: got {dtype}; expected float32 or float64")
        self.activation = activation
        self.output = output
        self.loss = loss
        self.init = init
        self.dtype = dtype
        self.n_classes = self.sizes[-1]

        # One generator serves initialisation and then shuffling, in this order, exactly as in
        # the compiled model: that is what makes the two comparable step by step.
        self._rng = np.random.default_rng(seed)
        weights, biases = initial_parameters(
            self.sizes, resolve_init(init, ACTIVATION_FUNCTIONS[activation].auto_init), self._rng
        )
        self.weights = [np.ascontiguousarray(W, dtype=dtype) for W in weights]
        self.biases = [np.ascontiguousarray(b, dtype=dtype) for b in biases]

        self._optimizer = None  # the optimizer object the state below belongs to
        self._optimizer_state = None
        self.history = None
        self.stop_training = False
        # Dropout (inverted: kept units scaled by 1 / (1 - rate)) and max-norm, in training only
        self.dropout, self.max_norm = dropout, max_norm
        self._rates = layer_rates(dropout, self.sizes)
        self._dropout_seed = stream_seed(seed)
        self._steps = 0  # steps trained: the dropout stream's position
        self._kept = None  # this step's masks, by hidden layer, while it runs

    @classmethod
    def from_parameters(
        cls, weights, biases, activation="relu", output="softmax", loss="cross_entropy", dtype=np.float64
    ):
        """A network holding copies of ``weights`` (each ``(n_in, n_out)``) and ``biases``, in ``dtype``.

        The way to check another network's parameters in float64: its forward pass, loss and
        gradients, computed here.
        """
        sizes = [int(np.shape(weights[0])[0])] + [int(np.shape(W)[1]) for W in weights]
        net = cls(sizes, activation, output, loss, dtype=dtype)
        net.weights = [np.array(W, dtype=net.dtype) for W in weights]
        net.biases = [np.array(b, dtype=net.dtype).reshape(-1) for b in biases]
        return net

    def __repr__(self):
        return (
            f"reference.MLP({self.sizes}, activation={self.activation!r}, "
            f"output={self.output!r}, loss={self.loss!r}, dtype={self.dtype.name})"
        )

    # ------------------------------------------------------------------ forward pass

    def _activate(self, z):
        """The hidden activation, applied to pre-activations ``z``."""
        return ACTIVATION_FUNCTIONS[self.activation].f(z)

    def _activation_derivative(self, a):
        """The derivative of the hidden activation, from its output ``a`` (see ``Activation``)."""
        return ACTIVATION_FUNCTIONS[self.activation].derivative(a)

    def _forward(self, X):
        """Hidden activations ``[X, a1, ..., a_{L-1}]`` and the output layer's logits; during a
        training step with dropout, each hidden layer's kept units scaled up, the others 0."""
        activations = [X]
        for layer, (W, b) in enumerate(zip(self.weights[:-1], self.biases[:-1]), start=1):
            a = self._activate(activations[-1] @ W + b)
            if self._kept is not None and self._rates[layer] > 0:
                a = np.where(self._kept[layer], a / (1 - self._rates[layer]), 0)
            activations.append(a)
        logits = activations[-1] @ self.weights[-1] + self.biases[-1]
        return activations, logits

    def _output_activation(self, logits):
        if self.output == "identity":
            return logits
        return softmax(logits) if self.output == "softmax" else sigmoid(logits)

    def forward(self, X):
        """Run the network on ``X`` and keep every layer's activation.

        Parameters
        ----------
        X : array_like, shape (n, n_features)

        Returns
        -------
        list of ndarray
            ``[X, a1, ..., out]``: the input (converted to ``dtype``), each hidden layer's
            activation, and the output layer's activation (probabilities).
        """
        activations, logits = self._forward(self._check_X(X))
        return activations + [self._output_activation(logits)]

    # ------------------------------------------------------------------ loss

    def _output_and_loss(self, logits, y):
        """Output activation, mean loss and the loss's gradient with respect to the logits.

        Each (output, loss) pair is differentiated as one function of the logits. For the two
        cross-entropies this gives the famous ``out - onehot``: the output activation's
        Jacobian cancels against the loss's derivative, which is both cheaper and more
        accurate than multiplying them out.
        """
        n = len(y)
        if self.output == "identity":  # regression: y holds the target values, (n, outputs)
            error = logits - y
            if self.loss == "huber":
                small = np.abs(error) <= HUBER_DELTA
                per = np.where(small, 0.5 * error**2, HUBER_DELTA * (np.abs(error) - 0.5 * HUBER_DELTA))
                return logits, float(np.mean(np.sum(per, axis=1))), np.clip(error, -HUBER_DELTA, HUBER_DELTA) / n
            return logits, float(np.mean(0.5 * np.sum(error**2, axis=1))), error / n
        Y = one_hot(y, self.n_classes, self.dtype)
        if self.output == "softmax" and self.loss == "cross_entropy":
            # -log p[y] = logsumexp(z) - z[y]; shifting by the row max keeps exp from overflowing.
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
            loss = np.mean(log_sum_exp - shifted[np.arange(n), y])
            out = softmax(logits)
            delta = (out - Y) / n
        elif self.output == "sigmoid" and self.loss == "cross_entropy":
            # -(y log s + (1-y) log(1-s)) = softplus(z) - y z, which never takes log(0).
            loss = np.mean(np.sum(_softplus(logits) - Y * logits, axis=1))
            out = sigmoid(logits)
            delta = (out - Y) / n
        elif self.output == "sigmoid":  # mse
            out = sigmoid(logits)
            loss = np.mean(0.5 * np.sum((out - Y) ** 2, axis=1))
            delta = (out - Y) * out * (1 - out) / n
        else:  # softmax + mse: the softmax Jacobian does not cancel here
            out = softmax(logits)
            loss = np.mean(0.5 * np.sum((out - Y) ** 2, axis=1))
            g = out - Y
            # J^T g for the softmax Jacobian J = diag(p) - p p^T, without forming J.
            delta = out * (g - np.sum(g * out, axis=1, keepdims=True)) / n
        return out, float(loss), delta

    # ------------------------------------------------------------------ backward pass

    def _backward(self, activations, delta):
        """Backpropagate ``delta`` (dLoss/dlogits of the last layer) into every parameter.

        Returns ``[(dW, db), ...]``, one pair per layer, first layer first.
        """
        grads = []
        for layer in range(len(self.weights) - 1, -1, -1):
            grads.append((activations[layer].T @ delta, delta.sum(axis=0)))
            if layer > 0:
                # Through the weights, then through the hidden activation that produced
                # activations[layer].
                delta = (delta @ self.weights[layer].T) * self._hidden_derivative(layer, activations[layer])
        grads.reverse()
        return grads

    def _hidden_derivative(self, layer, a):
        """d(hidden layer's output)/d(its pre-activation): the activation's, and dropout's."""
        rate = self._rates[layer]
        if self._kept is None or rate == 0:
            return self._activation_derivative(a)
        # a holds the kept outputs scaled up: the activation's own output is a * (1 - rate)
        return np.where(self._kept[layer], self._activation_derivative(a * (1 - rate)) / (1 - rate), 0)

    def _dropout_masks(self, n):
        """The kept units of this training step's n rows, by hidden layer (csrc/dropout.c's draws)."""
        return {
            layer: keeps(self._dropout_seed, self._steps, 0, n, layer, self.sizes[layer], rate)
            for layer, rate in enumerate(self._rates)
            if rate > 0
        }

    def _apply_max_norm(self):
        """Each unit's incoming weights (a column of W) scaled to norm at most max_norm (Keras')."""
        for W in self.weights:
            norms = np.sqrt(np.sum(W.astype(np.float64) ** 2, axis=0))
            W *= np.where(norms > self.max_norm, self.max_norm / (1e-7 + norms), 1.0).astype(W.dtype)

    def _loss_gradients_and_output(self, X, y):
        activations, logits = self._forward(X)
        out, loss, delta = self._output_and_loss(logits, y)
        return loss, self._backward(activations, delta), out

    def loss_and_gradients(self, X, y):
        """The mean loss over the rows of ``X`` and its gradient for every parameter.

        Parameters
        ----------
        X : array_like, shape (n, n_features)
        y : array_like of int, shape (n,)
            Class labels in ``[0, n_classes)``.

        Returns
        -------
        loss : float
        grads : list of (ndarray, ndarray)
            ``[(dW1, db1), (dW2, db2), ...]``, shaped like ``weights`` and ``biases``.
        """
        X = self._check_X(X)
        y = self._check_y(y, len(X))
        loss, grads, _ = self._loss_gradients_and_output(X, y)
        return loss, grads

    # ------------------------------------------------------------------ training

    @property
    def optimizer(self):
        """The optimizer of the last ``fit`` (None before the first): callbacks set its ``lr``."""
        return self._optimizer

    def fit(
        self,
        X,
        y,
        epochs=1,
        batch_size=32,
        optimizer=None,
        shuffle=True,
        validation_data=None,
        verbose=0,
        callbacks=None,
    ):
        """Train by minibatch gradient descent, continuing from the current parameters.

        Each epoch visits the rows in the order of a fresh permutation drawn from the model's
        generator (or in order, with ``shuffle=False``), in consecutive batches of
        ``batch_size`` rows; the last batch may be smaller. For each batch the loss and
        gradients are computed at the current parameters, and then the optimizer updates them.

        Parameters
        ----------
        X : array_like, shape (n, n_features)
        y : array_like of int, shape (n,)
        epochs : int, default 1
        batch_size : int, default 32
        optimizer : fastmlp.SGD or fastmlp.Adam, optional
            Defaults to ``SGD(lr=0.1)``. Its state (velocity, Adam moments and step count) is
            kept on the model, so passing the same optimizer object to the next ``fit``
            continues where this one stopped; a different object starts from fresh state.
        shuffle : bool, default True
        validation_data : tuple (X_val, y_val), optional
            Evaluated at the end of each epoch, giving ``val_loss`` and ``val_accuracy``.
        verbose : int, default 0
            Accepted for compatibility with ``fastmlp.MLP``; the reference never prints.
        callbacks : list of fastmlp.callbacks.Callback, optional
            Called Keras-style. A callback may set ``model.stop_training = True`` to end
            training after the current epoch.

        Returns
        -------
        History
            ``history.history`` holds per-epoch lists ``loss`` and ``accuracy`` (measured on
            each batch before its update), and ``val_loss``, ``val_accuracy`` with validation
            data. Also stored as ``self.history``.
        """
        X = self._check_X(X)
        y = self._check_y(y, len(X))
        epochs = _check_count("epochs", epochs, minimum=0)
        batch_size = _check_count("batch_size", batch_size, minimum=1)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data: expected a tuple (X_val, y_val)")
            X_val = self._check_X(validation_data[0], "validation_data[0]")
            y_val = self._check_y(validation_data[1], len(X_val), "validation_data[1]")
        if optimizer is None:
            optimizer = SGD(lr=0.1)
        if not isinstance(optimizer, (SGD, Adam)):
            raise TypeError(f"optimizer: got {optimizer!r}; expected fastmlp.SGD or fastmlp.Adam")
        if optimizer is not self._optimizer:
            self._optimizer = optimizer
            self._optimizer_state = self._fresh_optimizer_state(optimizer)

        history = History()
        callbacks = [history] + list(callbacks or [])
        self.history = history
        self.stop_training = False
        for callback in callbacks:
            callback.set_model(self)
        for callback in callbacks:
            callback.on_train_begin()

        n = len(X)
        for epoch in range(epochs):
            optimizer.start_epoch(epoch)  # where lr is a schedule (fastmlp.schedules), its rate now
            for callback in callbacks:
                callback.on_epoch_begin(epoch)
            rate = optimizer.lr
            order = self._rng.permutation(n) if shuffle else np.arange(n)
            summed_loss, correct = 0.0, 0
            for start in range(0, n, batch_size):
                batch = order[start : start + batch_size]
                self._kept = self._dropout_masks(len(batch))
                try:
                    loss, grads, out = self._loss_gradients_and_output(X[batch], y[batch])
                finally:
                    self._kept = None
                # Metrics come from the same forward pass as the gradients, before the update.
                summed_loss += loss * len(batch)
                if self.output != "identity":
                    correct += int(np.sum(np.argmax(out, axis=1) == y[batch]))
                self._update(grads, optimizer)
                if self.max_norm is not None:
                    self._apply_max_norm()
                self._steps += 1
            logs = {"loss": summed_loss / n}
            if self.output != "identity":
                logs["accuracy"] = correct / n
            if validation_data is not None:
                scores = self._evaluate(X_val, y_val)
                logs["val_loss"] = scores["loss"]
                if self.output != "identity":
                    logs["val_accuracy"] = scores["accuracy"]
            if rate_is_logged(optimizer, callbacks):
                logs["learning_rate"] = rate
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if self.stop_training:
                break

        for callback in callbacks:
            callback.on_train_end()
        return history

    # ------------------------------------------------------------------ optimizers

    def _parameters(self):
        """Every parameter array in a fixed order: W1, b1, W2, b2, ..."""
        return [p for W, b in zip(self.weights, self.biases) for p in (W, b)]

    def _fresh_optimizer_state(self, optimizer):
        zeros = [np.zeros_like(p) for p in self._parameters()]
        if isinstance(optimizer, Adam):
            return {"m": zeros, "v": [np.zeros_like(p) for p in self._parameters()], "t": 0}
        return {"velocity": zeros}

    def _update(self, grads, optimizer):
        """Apply one optimizer step to every parameter, in place."""
        gradients = [g for dW, db in grads for g in (dW, db)]
        if isinstance(optimizer, Adam):
            self._adam_step(gradients, optimizer)
        else:
            self._sgd_step(gradients, optimizer)

    def _sgd_step(self, gradients, opt):
        velocities = self._optimizer_state["velocity"]
        for p, g, v in zip(self._parameters(), gradients, velocities):
            if opt.weight_decay:
                g = g + opt.weight_decay * p
            if opt.momentum == 0:
                p -= opt.lr * g
                continue
            v *= opt.momentum
            v -= opt.lr * g
            if opt.nesterov:
                # Look ahead: step as if the velocity were applied once more.
                p += opt.momentum * v - opt.lr * g
            else:
                p += v

    def _adam_step(self, gradients, opt):
        state = self._optimizer_state
        state["t"] += 1
        t = state["t"]
        # The moments start at zero, so early on they underestimate; these undo that bias.
        correction1 = 1 - opt.beta1**t
        correction2 = 1 - opt.beta2**t
        for p, g, m, v in zip(self._parameters(), gradients, state["m"], state["v"]):
            if opt.weight_decay:
                g = g + opt.weight_decay * p
            m *= opt.beta1
            m += (1 - opt.beta1) * g
            v *= opt.beta2
            v += (1 - opt.beta2) * (g * g)
            p -= opt.lr * (m / correction1) / (np.sqrt(v / correction2) + opt.eps)

    # ------------------------------------------------------------------ inference

    def predict_proba(self, X):
        """Output activations (class probabilities for softmax), shape ``(n, n_classes)``, in ``dtype``."""
        return self.forward(X)[-1]

    def predict(self, X):
        """Predicted class labels: the argmax of the outputs, int64 of shape ``(n,)``; for a
        regression, the outputs themselves."""
        if self.output == "identity":
            return self.forward(X)[-1]
        return np.argmax(self.predict_proba(X), axis=1).astype(np.int64)

    def evaluate(self, X, y):
        """Mean loss and accuracy on ``(X, y)``.

        Returns
        -------
        dict
            ``{"loss": float, "accuracy": float}``.
        """
        X = self._check_X(X)
        return self._evaluate(X, self._check_y(y, len(X)))

    def _evaluate(self, X, y):
        _, logits = self._forward(X)
        out, loss, _ = self._output_and_loss(logits, y)
        if self.output == "identity":
            return {"loss": loss, **regression_scores(out, y)}
        return {"loss": loss, "accuracy": float(np.mean(np.argmax(out, axis=1) == y))}

    def copy(self):
        """An independent model with the same parameters, generator state and optimizer state.

        The copy trains exactly as the original would from here on, and changing one never
        changes the other.
        """
        new = object.__new__(MLP)
        new.__dict__.update(self.__dict__)
        new.weights = [W.copy() for W in self.weights]
        new.biases = [b.copy() for b in self.biases]
        new._rng = np.random.default_rng()
        new._rng.bit_generator.state = self._rng.bit_generator.state
        if self._optimizer_state is not None:
            new._optimizer_state = {
                key: [a.copy() for a in value] if isinstance(value, list) else value
                for key, value in self._optimizer_state.items()
            }
        new.history = None
        new.stop_training = False
        return new

    # ------------------------------------------------------------------ input checks

    def _check_X(self, X, name="X"):
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name}: got dtype {X.dtype}; expected real numbers")
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"{name}: got shape {X.shape}; expected (n, {self.sizes[0]})")
        if X.shape[0] == 0:
            raise ValueError(f"{name}: got 0 rows; expected at least one")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if not np.all(np.isfinite(X)):
            bad = int(np.count_nonzero(~np.isfinite(X)))
            raise ValueError(f"{name}: got {bad} non-finite values (NaN or Inf); expected finite numbers")
        return X

    def _check_y(self, y, n, name="y"):
        if self.output == "identity":  # a regression's targets: (n, outputs), or (n,) for one
            y = np.asarray(y, dtype=self.dtype)
            y = y[:, None] if y.ndim == 1 and self.n_classes == 1 else y
            if y.shape != (n, self.n_classes):
                raise ValueError(f"{name}: got shape {y.shape}; expected ({n}, {self.n_classes}), a target per output")
            return y
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise ValueError(f"{name}: got shape {y.shape}; expected ({n},), one label per row of X")
        if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        if y.dtype.kind not in "iu":
            raise TypeError(f"{name}: got dtype {y.dtype}; expected integer class labels")
        if n and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"{name}: got labels in [{y.min()}, {y.max()}]; expected labels in [0, {self.n_classes})")
        return y.astype(np.int64, copy=False)


def regression_scores(predicted, targets):
    """A regression's mse, mae and r2 (scikit-learn's r2_score, the outputs' average), in float64,
    for both models' ``evaluate``."""
    error = np.asarray(predicted, dtype=np.float64) - targets
    spread = ((targets - targets.mean(axis=0)) ** 2).sum(axis=0)
    explained = 1.0 - (error**2).sum(axis=0) / np.where(spread > 0, spread, 1.0)
    return {
        "mse": float(np.mean(error**2)),
        "mae": float(np.mean(np.abs(error))),
        "r2": float(np.mean(np.where(spread > 0, explained, 0.0))),
    }


def _check_sizes(sizes):
    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(f"sizes: got {sizes!r}; expected a list of ints like [784, 30, 10]") from None
    if len(sizes) < 2 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(
            f"sizes: got {sizes!r}; expected at least two positive ints, [n_features, hidden..., n_classes]"
        )
    return [int(s) for s in sizes]


def _check_count(name, value, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name}: got {value!r}; expected an int >= {minimum}")
    if value < minimum:
        raise ValueError(f"{name}: got {value!r}; expected an int >= {minimum}")
    return int(value)
