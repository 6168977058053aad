"""fastmlp.sklearn.MLPClassifier and MLPRegressor: scikit-learn's estimator checks, and the
behaviour users rely on."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_blobs, make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastmlp  # noqa: E402
from fastmlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

# Short runs that stop at max_iter are the point of most tests here, not a problem.
# and the estimator checks' tiny data sets make the batch_size=16 variant clip its batches.
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:batch_size. got:UserWarning"),
]


# SGD with momentum at 0.01: the setup these tests were sized for (the defaults, as
# scikit-learn's, are Adam at 0.001, which needs more epochs)
SGD_SETUP = dict(solver="sgd", learning_rate_init=0.01, nesterovs_momentum=False)


@parametrize_with_checks(
    [
        MLPClassifier(),
        MLPClassifier(solver="adam", learning_rate_init=0.01, hidden_layer_sizes=(16, 8), activation="tanh"),
        MLPClassifier(early_stopping=True, activation="logistic", batch_size=16, solver="sgd", learning_rate_init=0.01),
        MLPClassifier(
            hidden_layer_sizes=(), activation="leaky_relu", solver="sgd", learning_rate_init=0.01, shuffle=False
        ),
        MLPClassifier(solver="sgd", learning_rate="adaptive", learning_rate_init=0.05, nesterovs_momentum=False),
        MLPClassifier(solver="lbfgs", hidden_layer_sizes=(16,)),
        MLPRegressor(),
        MLPRegressor(early_stopping=True, learning_rate_init=0.01),
        MLPRegressor(solver="lbfgs", hidden_layer_sizes=(16,)),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(n_samples=300, n_features=20, n_informative=10, n_classes=3, random_state=0)
    return StandardScaler().fit_transform(X), y


def test_learns_and_reports_like_sklearn(problem):
    X, y = problem
    clf = MLPClassifier(hidden_layer_sizes=(32,), random_state=0, max_iter=300, **SGD_SETUP).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert isinstance(clf.model_, fastmlp.MLP)
    assert clf.model_.sizes == [20, 32, 3]
    assert clf.n_features_in_ == 20 and clf.n_outputs_ == 3 and clf.n_layers_ == 3
    assert clf.n_iter_ == len(clf.loss_curve_) <= 300
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.t_ == clf.n_iter_ * len(X)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert [w.shape for w in clf.coefs_] == [(20, 32), (32, 3)]
    assert [b.shape for b in clf.intercepts_] == [(32,), (3,)]
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float64 and proba.shape == (300, 3)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(proba, clf.model_.predict_proba(X), atol=1e-5)
    assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_same_random_state_same_model(problem):
    X, y = problem
    a = MLPClassifier(hidden_layer_sizes=(16,), random_state=3, max_iter=20).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(16,), random_state=3, max_iter=20).fit(X, y)
    assert a.loss_curve_ == b.loss_curve_
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "eel"]),
        np.array([-5, 10, 7]),
        np.array([1.0, 2.0, 3.0]),
        np.array(["no", "yes"], dtype=object),
    ],
)
def test_any_label_type(labels):
    X, y = make_blobs(n_samples=120, centers=len(labels), random_state=0)
    y_named = labels[y]
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, max_iter=100, **SGD_SETUP).fit(X, y_named)
    assert_array_equal(clf.classes_, np.sort(labels))
    assert clf.predict(X).dtype == clf.classes_.dtype
    assert np.mean(clf.predict(X) == y_named) > 0.9
    assert clf.predict_proba(X).shape == (120, len(labels))


def test_binary_uses_two_softmax_outputs():
    X, y = make_blobs(n_samples=100, centers=2, random_state=1)
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, max_iter=100, **SGD_SETUP).fit(X, y == 1)
    assert_array_equal(clf.classes_, [False, True])
    assert clf.model_.sizes[-1] == 2
    assert clf.predict_proba(X).shape == (100, 2)
    assert clf.score(X, y == 1) > 0.95


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="only one class"):
        MLPClassifier().fit(np.ones((5, 2)), ["a"] * 5)


def test_regression_target_is_an_error():
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(np.ones((5, 2)), [0.1, 0.2, 0.3, 0.4, 0.5])


@pytest.mark.parametrize(
    "params, exc, match",
    [
        (dict(hidden_layer_sizes=(10, 0)), ValueError, "hidden_layer_sizes"),
        (dict(hidden_layer_sizes="big"), TypeError, "hidden_layer_sizes"),
        (dict(activation="softplus"), ValueError, "activation"),
        (dict(solver="newton"), ValueError, "solver"),
        (dict(learning_rate_init=0.0), ValueError, "learning_rate_init"),
        (dict(momentum=1.0), ValueError, "momentum"),
        (dict(batch_size="all"), ValueError, "batch_size"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(max_iter=0), ValueError, "max_iter"),
        (dict(alpha=-1.0), ValueError, "alpha"),
        (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
        (dict(n_iter_no_change=0), ValueError, "n_iter_no_change"),
        (dict(tol=-1.0), ValueError, "tol"),
        (dict(shuffle="yes"), TypeError, "shuffle"),
    ],
)
def test_bad_parameters_raise_at_fit(params, exc, match):
    clf = MLPClassifier(**params)  # scikit-learn convention: __init__ only stores
    with pytest.raises(exc, match=match):
        clf.fit(np.eye(4), [0, 1, 0, 1])


def test_not_fitted():
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(np.ones((2, 2)))


def test_convergence_warning_when_max_iter_reached(problem):
    X, y = problem
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    assert clf.n_iter_ == 3


def test_stops_when_loss_stops_improving(problem):
    X, y = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(8,), tol=10.0, n_iter_no_change=2, random_state=0).fit(X, y)
    # with a huge tol only the first epoch counts as an improvement (on an infinite best loss),
    # then n_iter_no_change + 1 epochs without one stop training, as in scikit-learn
    assert clf.n_iter_ == 4


def test_early_stopping(problem):
    X, y = problem
    clf = MLPClassifier(
        hidden_layer_sizes=(32,),
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=5,
        max_iter=500,
        random_state=0,
        **SGD_SETUP,
    ).fit(X, y)
    assert clf.n_iter_ < 500
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    # the best epoch's parameters are the ones kept
    X_val_score = clf.best_validation_score_
    assert 0.7 < X_val_score <= 1.0


def test_verbose_prints_one_line_per_epoch(problem, capsys):
    X, y = problem
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, verbose=True, random_state=0).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Iteration")]
    assert len(lines) == 2 and "loss = " in lines[0]


def test_partial_fit(problem):
    X, y = problem
    clf = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:150], y[:150], classes=[0, 1, 2])
    for _ in range(30):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 31  # n_iter_: the last call's, as scikit-learn
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match="not among"):
        clf.partial_fit(X[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :5], y)


def test_partial_fit_with_classes_missing_from_first_batch():
    X, y = make_blobs(n_samples=90, centers=3, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    clf.partial_fit(X[y < 2], y[y < 2], classes=np.array([0, 1, 2]))
    assert clf.predict_proba(X).shape == (90, 3)


def test_warm_start_continues(problem):
    X, y = problem
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        model, first = clf.model_, clf.loss_curve_[-1]
        clf.fit(X, y)
    assert clf.model_ is model and clf.n_iter_ == 5 and len(clf.loss_curve_) == 10
    assert clf.loss_curve_[-1] < first
    with pytest.raises(ValueError, match="warm_start"):
        clf.fit(X[y < 2], y[y < 2])


def test_refit_without_warm_start_starts_afresh(problem):
    X, y = problem
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = clf.fit(X, y).loss_curve_
        second = clf.fit(X, y).loss_curve_
    assert first == second and clf.n_iter_ == 5


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_pickle_round_trip(problem, solver):
    X, y = problem
    clf = MLPClassifier(hidden_layer_sizes=(16,), solver=solver, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert isinstance(again.model_, fastmlp.MLP)
    assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    again.partial_fit(X, y)  # the restored model trains
    assert again.n_iter_ == 1 and len(again.loss_curve_) == 21


def test_alpha_is_weight_decay_per_batch(problem):
    X, y = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0, alpha=0.0, **SGD_SETUP).fit(X, y)
        large = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0, alpha=50.0, **SGD_SETUP).fit(X, y)
    norm = lambda clf: sum(float(np.sum(w.astype(np.float64) ** 2)) for w in clf.coefs_)  # noqa: E731
    assert norm(large) < 0.5 * norm(small)
    assert isinstance(large._solver_state, fastmlp.SGD)
    assert large._solver_state.weight_decay == pytest.approx(50.0 / 200)


@pytest.mark.slow  # starting joblib's worker processes takes a few seconds
def test_pipeline_and_grid_search_in_parallel(problem):
    X, y = problem
    pipe = Pipeline(
        [("scale", StandardScaler()), ("mlp", MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=0))]
    )
    grid = GridSearchCV(
        pipe, {"mlp__learning_rate_init": [0.003, 0.03], "mlp__activation": ["relu", "tanh"]}, cv=3, n_jobs=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert set(grid.best_params_) == {"mlp__learning_rate_init", "mlp__activation"}
    assert grid.best_score_ > 0.7
    assert grid.score(X, y) > 0.8
    assert isinstance(grid.best_estimator_.named_steps["mlp"].model_, fastmlp.MLP)


def test_cross_val_score_clones_unfitted(problem):
    X, y = problem
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=40, random_state=0, **SGD_SETUP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(clf, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.6
    assert not hasattr(clf, "model_")
    assert clone(clf).get_params() == clf.get_params()


def test_dataframe_feature_names(problem):
    pd = pytest.importorskip("pandas")
    X, y = problem
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(frame, y)
    assert_array_equal(clf.feature_names_in_, frame.columns)


def test_missing_sklearn_names_the_extra(monkeypatch):
    import importlib
    import sys

    for name in [name for name in sys.modules if name == "sklearn" or name.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import sklearn...` raise ImportError
    monkeypatch.delitem(sys.modules, "fastmlp.sklearn")
    with pytest.raises(ImportError, match=r'pip install "fastmlp\[sklearn\]"'):
        importlib.import_module("fastmlp.sklearn")
    monkeypatch.undo()
    assert importlib.import_module("fastmlp.sklearn").MLPClassifier is MLPClassifier


# ---- MLPRegressor ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def values():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6))
    Y = np.c_[np.sin(X[:, 0]) + X[:, 1] ** 2 / 4, X[:, 2] * X[:, 3]] + 0.05 * rng.standard_normal((300, 2))
    return X, Y


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_regressor_learns_one_or_several_outputs(values, solver):
    X, Y = values
    for targets in (Y[:, 0], Y):
        reg = MLPRegressor(
            hidden_layer_sizes=(32,), solver=solver, learning_rate_init=0.01, max_iter=300, random_state=0
        )
        reg.fit(X, targets)
        predicted = reg.predict(X)
        assert predicted.shape == targets.shape and predicted.dtype == np.float64
        assert reg.score(X, targets) > 0.7
        assert reg.n_outputs_ == (1 if targets.ndim == 1 else 2) and reg.out_activation_ == "identity"
        assert [c.shape for c in reg.coefs_] == [(6, 32), (32, reg.n_outputs_)]


def test_regressor_loss_is_scikit_learns_half_mean_squared_error(values):
    X, Y = values
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=5, random_state=0, alpha=0.0, shuffle=False).fit(X, Y)
    # one more epoch at a rate too small to move: its measured loss is the loss at these weights
    residual = reg.predict(X) - Y
    assert reg.loss_curve_[-1] == pytest.approx(0.5 * np.mean(residual**2), rel=0.05)


def test_regressor_partial_fit_warm_start_and_pickle(values):
    X, Y = values
    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    for _ in range(20):
        reg.partial_fit(X, Y)
    assert reg.n_iter_ == 1 and len(reg.loss_curve_) == 20 and reg.loss_curve_[-1] < reg.loss_curve_[0]
    with pytest.raises(ValueError, match="expected the 2 of the previous fit"):
        reg.partial_fit(X, Y[:, 0])
    again = pickle.loads(pickle.dumps(reg))
    assert_array_equal(again.predict(X), reg.predict(X))
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        MLPRegressor(solver="lbfgs").partial_fit(X, Y)


def test_regressor_early_stopping_watches_r2(values):
    X, Y = values
    reg = MLPRegressor(
        hidden_layer_sizes=(32,),
        learning_rate_init=0.01,
        early_stopping=True,
        n_iter_no_change=5,
        max_iter=500,
        random_state=0,
    ).fit(X, Y)
    assert reg.n_iter_ < 500 and len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_) > 0.5
