"""scikit-learn estimators trained by fastmlp: ``fastmlp.sklearn.MLPClassifier`` and ``MLPRegressor``.

They follow ``sklearn.neural_network``'s MLPClassifier and MLPRegressor: the same parameters with the same defaults
(``solver="adam"``, ``learning_rate_init=0.001``, ``batch_size="auto"``, ``learning_rate``
schedules for SGD, ``solver="lbfgs"`` through ``scipy.optimize``), the same stopping rule on
``tol`` and ``n_iter_no_change``, the fitted attributes it documents, and ``partial_fit``. It
passes ``sklearn.utils.estimator_checks.check_estimator``, so it drops into a ``Pipeline``,
``GridSearchCV`` or ``cross_val_score``. Stochastic training is ``fastmlp.MLP.fit``, one epoch per
call, the optimizer object kept between calls so that momentum and Adam's moments carry over.

scikit-learn is an optional dependency: ``pip install "fastmlp[sklearn]"``.
"""

import numbers
import warnings

import numpy as np
import scipy.optimize

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        'fastmlp.sklearn needs scikit-learn: pip install "fastmlp[sklearn]" (or pip install scikit-learn)'
    ) from exc

try:
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # scikit-learn < 1.6
    _sk_validate_data = None

from fastmlp import reference
from fastmlp._validation import check_choice, check_float, check_int
from fastmlp.model import MLP, _advice_silenced
from fastmlp.optim import SGD, Adam

__all__ = ["MLPClassifier", "MLPRegressor"]

_SOLVERS = ("lbfgs", "sgd", "adam")
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
_ADAPTIVE_MIN_LR = 1e-6  # scikit-learn's: "adaptive" stops once the rate is this small
# scikit-learn's names for the same functions
_ACTIVATION_ALIASES = {"logistic": "sigmoid"}


_NO_Y = "no_validation"  # scikit-learn's marker for "validate X only"
_PREDICT_BLOCK_ROWS = 1024


def _validate_data(estimator, X, y=_NO_Y, reset=True, **checks):
    kwargs = dict(reset=reset, dtype=[np.float32, np.float64], order="C", **checks)
    if _sk_validate_data is not None:
        return _sk_validate_data(estimator, X, y, **kwargs)
    return estimator._validate_data(X, y, **kwargs)  # pragma: no cover - scikit-learn < 1.6


def _outputs64(net, X):
    """The network's outputs (softmax probabilities, or a regression's values) computed in float64
    (by ``fastmlp.reference``) from its float32 parameters.

    Each row's result is then independent of which other rows share its batch, which the
    compiled float32 path (whose BLAS may sum in a different order for another batch size)
    guarantees only to about 1e-7; scikit-learn's invariance checks ask for more.
    """
    twin = reference.MLP.from_parameters(net.weights, net.biases, net.activation, net.output, net.loss)
    out = np.empty((len(X), net.sizes[-1]))
    for start in range(0, len(X), _PREDICT_BLOCK_ROWS):
        out[start : start + _PREDICT_BLOCK_ROWS] = twin.predict_proba(X[start : start + _PREDICT_BLOCK_ROWS])
    return out


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: got {value!r}; expected True or False")
    return bool(value)


class _NetState:
    """A picklable copy of a fastmlp.MLP (the compiled model itself holds C buffers)."""

    def __init__(self, net):
        self.config = dict(
            sizes=list(net.sizes),
            activation=net.activation,
            output=net.output,
            loss=net.loss,
            init=net.init,
            seed=net.seed,
        )
        self.weights = [w.copy() for w in net.weights]
        self.biases = [b.copy() for b in net.biases]

    def restore(self):
        net = MLP(**self.config)
        net.weights = self.weights
        net.biases = self.biases
        return net


class _MLPBase(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: scikit-learn's parameters, the epochs through
    ``fastmlp.MLP.fit`` with scikit-learn's stopping rule and rate schedules, and ``"lbfgs"``."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        solver="adam",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        batch_size="auto",
        max_iter=200,
        max_fun=15000,
        alpha=0.0001,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        verbose=False,
        warm_start=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.max_fun = max_fun
        self.alpha = alpha
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def fit(self, X, y):
        """Train on X, y: from new random weights, or from the last solution with ``warm_start``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels of any sortable type (at least two classes), or a regression's values.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def _stochastic(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not stochastic."
            )
        return True

    @property
    def coefs_(self):
        check_is_fitted(self)
        return list(self.model_.weights)

    @property
    def intercepts_(self):
        check_is_fitted(self)
        return list(self.model_.biases)

    # ---- pickling: the compiled model is rebuilt from a plain copy ----

    def __getstate__(self):
        state = super().__getstate__()
        if isinstance(state.get("model_"), MLP):
            state = dict(state)
            state["model_"] = _NetState(state["model_"])
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), _NetState):
            state = dict(state)
            state["model_"] = state["model_"].restore()
        super().__setstate__(state)

    # ---- training ----

    def _checked_params(self):
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = [hidden]
        if not isinstance(hidden, (list, tuple, np.ndarray)):
            raise TypeError(
                f"hidden_layer_sizes: got {hidden!r}; expected an int or a sequence of ints such as (100,) or (128, 64)"
            )
        hidden = list(np.asarray(hidden).ravel().tolist()) if isinstance(hidden, np.ndarray) else list(hidden)
        for size in hidden:
            check_int("hidden_layer_sizes", size, minimum=1)
        activation = _ACTIVATION_ALIASES.get(self.activation, self.activation)
        check_choice("activation", activation, reference.ACTIVATIONS)
        check_choice("solver", self.solver, _SOLVERS)
        check_choice("learning_rate", self.learning_rate, _LEARNING_RATES)
        check_float("learning_rate_init", self.learning_rate_init, low=0.0, low_open=True)
        check_float("power_t", self.power_t, low=0.0)
        check_float("momentum", self.momentum, 0.0, 1.0, high_open=True)
        _check_bool("nesterovs_momentum", self.nesterovs_momentum)
        check_float("beta_1", self.beta_1, 0.0, 1.0, high_open=True)
        check_float("beta_2", self.beta_2, 0.0, 1.0, high_open=True)
        check_float("epsilon", self.epsilon, low=0.0, low_open=True)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            if isinstance(self.batch_size, str):
                raise ValueError(f"batch_size: got {self.batch_size!r}; expected 'auto' or an int >= 1")
            check_int("batch_size", self.batch_size, minimum=1)
        check_int("max_iter", self.max_iter, minimum=1)
        check_int("max_fun", self.max_fun, minimum=1)
        check_float("alpha", self.alpha, low=0.0)
        _check_bool("shuffle", self.shuffle)
        _check_bool("early_stopping", self.early_stopping)
        check_float("validation_fraction", self.validation_fraction, 0.0, 1.0, low_open=True, high_open=True)
        check_int("n_iter_no_change", self.n_iter_no_change, minimum=1)
        check_float("tol", self.tol, low=0.0)
        _check_bool("warm_start", self.warm_start)
        return [int(size) for size in hidden], activation

    def _make_optimizer(self, batch_size):
        # fastmlp's loss is scikit-learn's over _loss_scale(): the penalty, and SGD's rate (Adam's
        # steps do not depend on the gradient's scale), scaled so that the steps are the same
        scale = self._loss_scale()
        weight_decay = float(self.alpha) / batch_size / scale
        if self.solver == "adam":
            return Adam(
                lr=float(self.learning_rate_init),
                beta1=float(self.beta_1),
                beta2=float(self.beta_2),
                eps=float(self.epsilon),
                weight_decay=weight_decay,
            )
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        return SGD(
            lr=float(self.learning_rate_init) * scale,
            momentum=float(self.momentum),
            nesterov=nesterov,
            weight_decay=weight_decay,
        )

    def _batch_size(self, n_samples):
        if isinstance(self.batch_size, str):
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"batch_size: got {self.batch_size}, more than the {n_samples} training rows; using {n_samples}",
                UserWarning,
                stacklevel=3,
            )
        return min(int(self.batch_size), n_samples)

    def _validation_split(self, X, y):
        """Hold out validation_fraction of the rows, stratified when every class allows it."""
        n_val = int(np.ceil(self.validation_fraction * len(X)))
        if n_val < 1 or n_val >= len(X):
            raise ValueError(
                f"validation_fraction: got {self.validation_fraction} of n_samples={len(X)} rows, which "
                "leaves no rows on one side; expected a fraction leaving rows for both "
                "training and validation (or early_stopping=False)"
            )
        if self._stratified:
            try:
                return train_test_split(X, y, test_size=n_val, stratify=y, random_state=self._rng)
            except ValueError:  # a class too small to appear on both sides
                pass
        return train_test_split(X, y, test_size=n_val, random_state=self._rng)

    def _fit(self, X, y, incremental, classes=None):
        hidden, activation = self._checked_params()
        continuing = hasattr(self, "model_") and (incremental or self.warm_start)
        X, y = _validate_data(self, X, y, reset=not continuing, **self._y_checks)
        n_outputs = self._outputs_for(y, incremental, continuing, classes)

        if not continuing:
            rng = check_random_state(self.random_state)
            seed = int(rng.randint(np.iinfo(np.int32).max))
            self.model_ = MLP([X.shape[1], *hidden, n_outputs], activation=activation, seed=seed, **self._network_head)
            self._rng = rng
            self._solver_state = None
            self.n_iter_, self.t_ = 0, 0
            self.loss_curve_ = []
            self._best_loss = np.inf
            self.best_loss_ = None
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self._no_improvement_count = 0
            self.n_layers_ = len(hidden) + 2
            self.n_outputs_ = n_outputs
            self.out_activation_ = self._network_head["output"]
        y = self._targets(y)
        X = np.ascontiguousarray(X, dtype=np.float32)
        if self.solver == "lbfgs":
            return self._fit_lbfgs(X, y)

        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            X, X_val, y, y_val = self._validation_split(X, y)
            if self.validation_scores_ is None:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
        batch_size = self._batch_size(len(X))
        optimizer = self._solver_state
        if not incremental or optimizer is None:  # as scikit-learn: fit starts afresh, partial_fit goes on
            optimizer = self._solver_state = self._make_optimizer(batch_size)
        if not incremental:
            self._no_improvement_count = 0

        best_params = None
        self.n_iter_ = 0  # this call's epochs, as scikit-learn counts them; t_ and loss_curve_ go on
        epochs = 1 if incremental else int(self.max_iter)
        for _ in range(epochs):
            # scikit-learn's users hear from its conventions (ConvergenceWarning), not fit's advice
            with _advice_silenced():
                try:
                    history = self.model_.fit(
                        X,
                        y,
                        epochs=1,
                        batch_size=batch_size,
                        optimizer=optimizer,
                        shuffle=bool(self.shuffle),
                        verbose=0,
                    )
                except FloatingPointError as exc:  # scikit-learn's error for the same, with fastmlp's advice
                    raise ValueError(
                        "Solver produced non-finite parameter weights. The input data may contain large values "
                        f"and need to be preprocessed. ({exc})"
                    ) from exc
            loss = float(history.history["loss"][-1]) * self._loss_scale()
            self.n_iter_ += 1
            self.t_ += len(X)
            self.loss_ = loss
            self.loss_curve_.append(loss)
            if early_stopping:
                score = self._validation_score(X_val, y_val)
                self.validation_scores_.append(score)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {loss:.8f}, validation score = {score:.6f}")
                improved = score >= self.best_validation_score_ + self.tol
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    best_params = ([w.copy() for w in self.model_.weights], [b.copy() for b in self.model_.biases])
            else:
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
                improved = loss <= self._best_loss - self.tol
            self._best_loss = min(self._best_loss, loss)
            self.best_loss_ = None if early_stopping else self._best_loss
            self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
            if self._sgd_schedule("invscaling"):
                optimizer.lr = float(self.learning_rate_init) / (self.t_ + 1) ** float(self.power_t)
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if early_stopping else "Training loss"
                message = (
                    f"{what} did not improve more than tol={self.tol} for {self.n_iter_no_change} consecutive epochs."
                )
                if not self._sgd_schedule("adaptive") or optimizer.lr <= _ADAPTIVE_MIN_LR:
                    if self.verbose:
                        print(message + " Stopping.")
                    if not incremental:
                        break
                else:
                    optimizer.lr /= 5.0
                    self._no_improvement_count = 0
                    if self.verbose:
                        print(f"{message} Setting learning rate to {optimizer.lr:f}")
            if incremental:
                break
        else:
            if not incremental:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                    "optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        if early_stopping and best_params is not None:
            self.model_.weights, self.model_.biases = best_params
        return self

    def _sgd_schedule(self, name):
        return self.solver == "sgd" and self.learning_rate == name

    def _fit_lbfgs(self, X, y):
        """scikit-learn's L-BFGS-B over every parameter at once (its loss: the mean loss plus
        ``0.5 * alpha * ||W||**2 / n_samples``, biases not penalised), the loss and gradients
        from the compiled model."""
        net, n = self.model_, len(X)
        shapes = [a.shape for a in net.weights + net.biases]
        cuts = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]

        def unpack(theta):
            arrays = [part.reshape(shape) for part, shape in zip(np.split(theta, cuts), shapes)]
            return arrays[: len(net.weights)], arrays[len(net.weights) :]

        def objective(theta):
            net.weights, net.biases = unpack(theta)
            loss, grads = net.loss_and_gradients(X, y)
            penalty = sum(float(np.dot(W.ravel(), W.ravel())) for W in net.weights)
            scale = self._loss_scale()
            grad_w = [scale * dW + (self.alpha / n) * W for (dW, _), W in zip(grads, net.weights)]
            grad_b = [scale * db for _, db in grads]
            flat = np.concatenate([g.ravel() for g in grad_w + grad_b]).astype(np.float64)
            return scale * float(loss) + 0.5 * self.alpha * penalty / n, flat

        start = np.concatenate([a.ravel() for a in net.weights + net.biases]).astype(np.float64)
        with _advice_silenced():
            result = scipy.optimize.minimize(
                objective,
                start,
                method="L-BFGS-B",
                jac=True,
                options={"maxfun": int(self.max_fun), "maxiter": int(self.max_iter), "gtol": float(self.tol)},
            )
        net.weights, net.biases = unpack(result.x)
        self.n_iter_ = int(result.nit)
        self.loss_ = float(result.fun)
        self.best_loss_ = None
        if result.status != 0:
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iterations (status={result.status}): "
                f"{result.message}. Increase max_iter (or max_fun), or scale the data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self


class MLPClassifier(ClassifierMixin, _MLPBase):
    """A multilayer perceptron classifier for scikit-learn, trained by fastmlp's compiled loop.

    The network is ``[n_features, *hidden_layer_sizes, n_classes]`` with a softmax output and
    cross-entropy loss; a binary problem gets two softmax outputs. Labels may be of any type
    that ``numpy.unique`` can sort (ints, strings, ...): they are mapped to ``0..n_classes-1``
    and back. Each epoch is one call to ``fastmlp.MLP.fit``; training stops as in
    scikit-learn's ``MLPClassifier``, when the training loss (or, with ``early_stopping``, the
    validation accuracy) has not improved by at least ``tol`` for more than
    ``n_iter_no_change`` consecutive epochs, or after ``max_iter`` epochs.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Units in each hidden layer; ``()`` gives a network without hidden layers
        (multinomial logistic regression).
    activation : {"relu", "leaky_relu", "sigmoid", "tanh"}, default "relu"
        Hidden activation; scikit-learn's name ``"logistic"`` is accepted for ``"sigmoid"``.
    solver : {"lbfgs", "sgd", "adam"}, default "adam"
        ``fastmlp.Adam``, ``fastmlp.SGD``, or scipy's L-BFGS-B over the whole training set
        (``fastmlp.MLP.loss_and_gradients``), as scikit-learn runs it: ``max_iter`` iterations,
        ``max_fun`` evaluations, ``tol`` on the projected gradient.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        SGD's rate after each epoch: ``learning_rate_init``; ``learning_rate_init / (t_ + 1) **
        power_t``; or divided by 5 whenever ``n_iter_no_change`` epochs pass without an
        improvement (training stops once it is below 1e-6). Other solvers ignore it.
    learning_rate_init : float, default 0.001
        The rate the stochastic solvers start from.
    power_t : float, default 0.5
        The exponent of ``"invscaling"``.
    momentum : float, default 0.9
        SGD momentum, in [0, 1).
    nesterovs_momentum : bool, default True
        Use Nesterov momentum with SGD (where ``momentum > 0``).
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Adam's parameters.
    batch_size : int or "auto", default "auto"
        Rows per update; ``"auto"`` is ``min(200, n_samples)``. Larger values are clipped to the
        number of training rows, with a warning.
    max_iter : int, default 200
        The largest number of epochs per ``fit`` (iterations, for ``"lbfgs"``).
    max_fun : int, default 15000
        The most loss evaluations ``"lbfgs"`` makes.
    alpha : float, default 0.0001
        L2 penalty, with scikit-learn's meaning: the loss of a minibatch of ``m`` rows gains
        ``0.5 * alpha * ||W||**2 / m``, which is fastmlp's ``weight_decay = alpha / batch_size``.
        Unlike scikit-learn, the biases are decayed too.
    shuffle : bool, default True
        Shuffle the rows every epoch.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training rows (stratified), stop when their
        accuracy stops improving, and keep the parameters of the best epoch.
    validation_fraction : float, default 0.1
        In (0, 1); used with ``early_stopping``.
    n_iter_no_change : int, default 10
        Epochs without an improvement of at least ``tol`` that end training.
    tol : float, default 1e-4
        The smallest improvement that counts.
    random_state : int, RandomState instance or None, default None
        Seeds the initial weights, the shuffling and the validation split.
    verbose : bool, default False
        Print the loss (and validation accuracy) after each epoch.
    warm_start : bool, default False
        Let ``fit`` continue from the previous solution instead of starting afresh.

    Attributes
    ----------
    model_ : fastmlp.MLP
        The trained network; ``model_.predict_proba`` works on the encoded problem.
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.
    loss_ : float
        The training loss at the end of fitting: the last epoch's mean, or the L-BFGS objective
        (with its L2 term).
    loss_curve_ : list of float
        The mean training loss of each epoch (the data term, without the L2 penalty), measured
        during the epoch as the minibatches were seen; empty for ``"lbfgs"``.
    best_loss_ : float or None
        The lowest value in ``loss_curve_``; None with ``early_stopping``.
    validation_scores_ : list of float or None
        The validation accuracy after each epoch, with ``early_stopping``; else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_``; else None.
    n_iter_ : int
        Epochs run by the last call (1 after ``partial_fit``); iterations for ``"lbfgs"``.
    t_ : int
        Training rows seen, counting repeats.
    n_layers_ : int
        Layers including input and output.
    n_outputs_ : int
        Output units (``len(classes_)``).
    out_activation_ : str
        ``"softmax"``.
    coefs_ : list of ndarray
        The live float32 weight arrays of ``model_``, shape ``(n_in, n_out)`` each.
    intercepts_ : list of ndarray
        The live float32 bias arrays of ``model_``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastmlp.sklearn import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = make_pipeline(StandardScaler(), MLPClassifier(random_state=0, max_iter=50))
    >>> clf.fit(X_train, y_train).score(X_test, y_test)  # doctest: +SKIP
    0.97...
    """

    _network_head = {"output": "softmax", "loss": "cross_entropy"}
    _y_checks = {}
    _stratified = True

    @available_if(_MLPBase._stochastic)
    def partial_fit(self, X, y, classes=None):
        """Train one epoch on X, y, continuing from the current parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), optional
            Every class that will ever be seen: required on the first call, ignored after
            (as in scikit-learn).

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities, float64 of shape (n_samples, n_classes), columns in ``classes_`` order.

        They are computed in float64 from ``model_``'s float32 parameters, so that a row's
        result does not depend on the other rows passed with it; ``model_.predict_proba`` (the
        compiled float32 path) agrees to about 1e-6.
        """
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return _outputs64(self.model_, X)

    def predict_log_proba(self, X):
        """The logarithm of ``predict_proba(X)``."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row, shape (n_samples,), labels from ``classes_``."""
        check_is_fitted(self)
        return self.classes_.take(np.argmax(self.predict_proba(X), axis=1))

    def _outputs_for(self, y, incremental, continuing, classes):
        """classes_, set on a first fit, checked after; the network's outputs: one a class."""
        check_classification_targets(y)
        if incremental and not continuing:
            if classes is None:
                raise ValueError(
                    "classes: got None on the first call to partial_fit; expected every class "
                    "that will ever be seen, e.g. classes=np.unique(y_all)"
                )
            classes = np.unique(np.asarray(classes))
        elif continuing:
            classes = self.classes_
            if not incremental and not np.array_equal(np.unique(y), classes):
                raise ValueError(
                    f"y: got classes {np.unique(y).tolist()}; expected the classes of the previous "
                    f"fit {classes.tolist()}: warm_start keeps the network's outputs"
                )
        else:
            classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"y: got only one class ({classes.tolist()}); expected at least 2 classes")

        if not continuing:
            self.classes_ = classes
        return len(classes)

    def _targets(self, y):
        return self._encode(y)

    def _loss_scale(self):
        return 1.0

    def _validation_score(self, X, y):
        return self.model_.evaluate(X, y)["accuracy"]

    def _encode(self, y):
        """Labels -> indices into classes_; labels never seen before are an error."""
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(
                f"y: got labels {np.unique(np.asarray(y)[unknown])[:5].tolist()} that are not among "
                f"classes_ {self.classes_.tolist()}; expected only known classes"
            )
        return index.astype(np.int32)


class MLPRegressor(RegressorMixin, _MLPBase):
    """A multilayer perceptron regressor for scikit-learn, trained by fastmlp's compiled loop.

    The network is ``[n_features, *hidden_layer_sizes, n_outputs]`` with an identity output and
    half the squared error as its loss (``fastmlp.MLP(..., output="identity", loss="mse")``). The
    parameters, defaults, stopping rule, schedules, solvers and fitted attributes are
    :class:`MLPClassifier`'s, which are scikit-learn's; as there, the loss is
    ``((y - predicted) ** 2).mean() / 2`` (over the outputs too) plus the L2 term, and
    ``early_stopping`` watches the validation rows' R^2.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from fastmlp.sklearn import MLPRegressor
    >>> X, y = make_regression(n_samples=200, random_state=1)
    >>> MLPRegressor(random_state=1, max_iter=500).fit(X[:150], y[:150]).score(X[150:], y[150:])  # doctest: +SKIP
    0.4...
    """

    _network_head = {"output": "identity", "loss": "mse"}
    _y_checks = {"multi_output": True, "y_numeric": True}
    _stratified = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y of shape (n_samples, n_outputs)
        return tags

    @available_if(_MLPBase._stochastic)
    def partial_fit(self, X, y):
        """Train one epoch on X, y, continuing from the current parameters.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """The network's values, float64: shape (n_samples,) for one output, else (n_samples,
        n_outputs); computed in float64 from ``model_``'s parameters, as the classifier's
        probabilities are."""
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        values = _outputs64(self.model_, X)
        return values.ravel() if values.shape[1] == 1 else values

    def _outputs_for(self, y, incremental, continuing, classes):
        n_outputs = 1 if np.ndim(y) == 1 else int(np.shape(y)[1])
        if continuing and n_outputs != self.n_outputs_:
            raise ValueError(
                f"y: got {n_outputs} outputs; expected the {self.n_outputs_} of the previous fit: "
                "warm_start and partial_fit keep the network's outputs"
            )
        return n_outputs

    def _targets(self, y):
        return np.asarray(y, dtype=np.float32).reshape(len(y), -1)

    def _loss_scale(self):
        return 1.0 / self.n_outputs_  # fastmlp sums the outputs' squared errors; scikit-learn averages them

    def _validation_score(self, X, y):
        return self.model_.evaluate(X, y)["r2"]
