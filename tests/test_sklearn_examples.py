"""scikit-learn's own MLPClassifier and MLPRegressor examples, run twice: with scikit-learn's
estimators and with fastmlp's, only the import changed. The scores agree within what different random streams (the
initial weights, the shuffles) explain. Sources: the user guide's "Neural network models
(supervised)", the MLPClassifier API page, the example "Compare Stochastic learning strategies for
MLPClassifier" (plot_mlp_training_curves.py), and the user guide's partial_fit and GridSearchCV
usage."""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn import neural_network  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

import fastmlp.sklearn  # noqa: E402

ESTIMATORS = {"sklearn": neural_network.MLPClassifier, "fastmlp": fastmlp.sklearn.MLPClassifier}
REGRESSORS = {"sklearn": neural_network.MLPRegressor, "fastmlp": fastmlp.sklearn.MLPRegressor}
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def both(run, estimators=ESTIMATORS):
    """run(estimator class) for scikit-learn's class and fastmlp's: {name: result}."""
    return {name: run(estimator) for name, estimator in estimators.items()}


def test_user_guide_two_points_lbfgs():
    def run(MLPClassifier):
        X = [[0.0, 0.0], [1.0, 1.0]]
        y = [0, 1]
        clf = MLPClassifier(solver="lbfgs", alpha=1e-5, hidden_layer_sizes=(5, 2), random_state=1)
        clf.fit(X, y)
        return clf.predict([[2.0, 2.0], [-1.0, -2.0]]).tolist(), [coef.shape[:1] for coef in clf.coefs_]

    results = both(run)
    assert results["fastmlp"] == results["sklearn"] == ([1, 0], [(2,), (5,), (2,)])


def test_api_page_make_classification():
    def run(MLPClassifier):
        X, y = make_classification(n_samples=100, random_state=1)
        X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=1)
        clf = MLPClassifier(random_state=1, max_iter=300).fit(X_train, y_train)
        proba = clf.predict_proba(X_test[:1])
        assert proba.shape == (1, 2) and abs(proba.sum() - 1) < 1e-9
        return clf.score(X_test, y_test)

    scores = both(run)
    assert scores["sklearn"] == pytest.approx(0.88)
    assert scores["fastmlp"] >= scores["sklearn"] - 0.08


# plot_mlp_training_curves.py: its learning strategies on the digits, max_iter 15 as there
STRATEGIES = {
    "constant learning-rate": {"solver": "sgd", "learning_rate": "constant", "momentum": 0, "learning_rate_init": 0.2},
    "constant with momentum": {
        "solver": "sgd",
        "learning_rate": "constant",
        "momentum": 0.9,
        "nesterovs_momentum": False,
        "learning_rate_init": 0.2,
    },
    "constant with Nesterov's momentum": {
        "solver": "sgd",
        "learning_rate": "constant",
        "momentum": 0.9,
        "nesterovs_momentum": True,
        "learning_rate_init": 0.2,
    },
    "inv-scaling learning-rate": {
        "solver": "sgd",
        "learning_rate": "invscaling",
        "momentum": 0,
        "learning_rate_init": 0.2,
    },
    "inv-scaling with momentum": {
        "solver": "sgd",
        "learning_rate": "invscaling",
        "momentum": 0.9,
        "nesterovs_momentum": False,
        "learning_rate_init": 0.2,
    },
    "adam": {"solver": "adam", "learning_rate_init": 0.01},
}


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_training_curves_example_on_digits(strategy):
    X, y = load_digits(return_X_y=True)
    X = MinMaxScaler().fit_transform(X)

    def run(MLPClassifier):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp = MLPClassifier(random_state=0, max_iter=15, **STRATEGIES[strategy]).fit(X, y)
        return mlp.score(X, y), mlp.loss_curve_

    (sk_score, sk_curve), (fm_score, fm_curve) = both(run).values()
    assert len(fm_curve) == len(sk_curve) == 15
    # the same strategy learns about as much: within 0.1 of accuracy after 15 noisy epochs
    assert fm_score == pytest.approx(sk_score, abs=0.1)
    assert fm_curve[-1] < fm_curve[0]


def test_partial_fit_over_batches():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

    def run(MLPClassifier):
        clf = MLPClassifier(hidden_layer_sizes=(64,), random_state=0, learning_rate_init=0.01)
        for epoch in range(10):
            for batch in np.array_split(np.arange(len(X_train)), 5):
                clf.partial_fit(X_train[batch], y_train[batch], classes=np.arange(10))
        return clf.score(X_test, y_test), clf.n_iter_

    (sk_score, sk_iter), (fm_score, fm_iter) = both(run).values()
    assert fm_iter == sk_iter == 1  # each call counts its own epoch, as scikit-learn's
    assert fm_score == pytest.approx(sk_score, abs=0.04) and fm_score > 0.9


def test_grid_search_over_alpha_and_hidden_layers():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0

    def run(MLPClassifier):
        grid = GridSearchCV(
            MLPClassifier(max_iter=60, random_state=0),
            {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(32,), (64,)]},
            cv=3,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            grid.fit(X, y)
        return grid.best_score_, grid.cv_results_["mean_test_score"]

    (sk_best, sk_scores), (fm_best, fm_scores) = both(run).values()
    assert fm_best == pytest.approx(sk_best, abs=0.03)
    np.testing.assert_allclose(fm_scores, sk_scores, atol=0.05)


# ---- regression ------------------------------------------------------------------------------


def test_regressor_api_page_make_regression():
    def run(MLPRegressor):
        X, y = make_regression(n_samples=200, n_features=20, random_state=1)
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=1)
        regr = MLPRegressor(random_state=1, max_iter=2000, tol=0.1).fit(X_train, y_train)
        assert regr.predict(X_test[:2]).shape == (2,)
        return regr.score(X_test, y_test)

    scores = both(run, REGRESSORS)
    assert scores["sklearn"] > 0.9
    assert scores["fastmlp"] == pytest.approx(scores["sklearn"], abs=0.05)


def test_regressor_on_diabetes_in_a_pipeline_with_early_stopping():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

    def run(MLPRegressor):
        model = make_pipeline(
            StandardScaler(),
            MLPRegressor(hidden_layer_sizes=(30, 15), learning_rate_init=0.01, early_stopping=True, random_state=0),
        )
        return model.fit(X_train, y_train).score(X_test, y_test)

    scores = both(run, REGRESSORS)
    assert scores["fastmlp"] == pytest.approx(scores["sklearn"], abs=0.1)


def test_regressor_grid_search_and_partial_fit():
    X, y = make_regression(n_samples=300, n_features=10, n_targets=2, noise=5.0, random_state=0)
    y = y / 100

    def run(MLPRegressor):
        grid = GridSearchCV(
            MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=200, random_state=0),
            {"alpha": [1e-4, 1.0]},
            cv=3,
        ).fit(X, y)
        online = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
        for _ in range(30):
            for batch in np.array_split(np.arange(len(X)), 3):
                online.partial_fit(X[batch], y[batch])
        return grid.best_score_, online.score(X, y)

    (sk_grid, sk_online), (fm_grid, fm_online) = both(run, REGRESSORS).values()
    assert fm_grid == pytest.approx(sk_grid, abs=0.05)
    assert fm_online == pytest.approx(sk_online, abs=0.05)
