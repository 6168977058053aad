"""More than one machine, with the engines users already run (pip install "fastmlp[dask]"): a
hyperparameter sweep of fastmlp.sklearn estimators on a real dask.distributed cluster (two worker
processes) through joblib's dask backend, and partial_fit over the blocks of a dask.array."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")
pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from fastmlp.sklearn import MLPClassifier  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    # the cluster's own chatter when it starts and stops, not fastmlp's
    "ignore::DeprecationWarning",
    "ignore::ResourceWarning",
    "ignore:Sending large graph:UserWarning",  # joblib sends the rows with each batch of tasks
)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def rows(mnist):
    (X, y), (X_test, y_test) = mnist
    return X[:6000], y[:6000], X_test[:2000], y_test[:2000]


def test_a_grid_search_on_the_cluster_gives_the_local_results(client, rows):
    X, y, _, _ = rows
    X, y = X[:1500], y[:1500]
    grid = GridSearchCV(
        MLPClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=0),
        {"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 1e-2]},
        cv=2,
    )
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote = clone(grid).set_params(n_jobs=-1).fit(X, y)
    assert len(tasks.data) >= 8  # 4 settings x 2 folds ran as tasks on the workers
    assert {task["worker"] for task in tasks.data} <= set(client.scheduler_info()["workers"])
    local = clone(grid).fit(X, y)
    assert remote.best_params_ == local.best_params_
    # the same seeds give the same bits on any machine and thread count
    assert_array_equal(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert_array_equal(remote.predict_proba(X[:50]), local.predict_proba(X[:50]))


def partial_fit_blocks(clf, X, y, classes, epochs=1):
    """The README's loop: one partial_fit per block of rows, each block computed (read into
    memory) only when its turn comes."""
    for _ in range(epochs):
        for i in range(X.numblocks[0]):
            clf.partial_fit(X.blocks[i].compute(), y.blocks[i].compute(), classes=classes)
    return clf


def test_partial_fit_over_the_blocks_of_a_dask_array(rows):
    X, y, X_test, y_test = rows
    blocks_X, blocks_y = da.from_array(X, chunks=(1000, 784)), da.from_array(y, chunks=1000)
    assert blocks_X.numblocks == (6, 1)
    by_blocks = partial_fit_blocks(
        MLPClassifier(hidden_layer_sizes=(64,), learning_rate_init=0.01, random_state=0),
        blocks_X,
        blocks_y,
        np.arange(10),
        epochs=3,
    )
    assert by_blocks.score(X_test, y_test) > 0.85
    # the same steps as partial_fit on the NumPy rows block by block
    in_memory = MLPClassifier(hidden_layer_sizes=(64,), learning_rate_init=0.01, random_state=0)
    for _ in range(3):
        for start in range(0, len(X), 1000):
            in_memory.partial_fit(X[start : start + 1000], y[start : start + 1000], classes=np.arange(10))
    for mine, theirs in zip(by_blocks.coefs_ + by_blocks.intercepts_, in_memory.coefs_ + in_memory.intercepts_):
        assert_array_equal(mine, theirs)


def test_dask_ml_incremental_where_it_is_installed(rows):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y, X_test, y_test = rows
    model = wrappers.Incremental(MLPClassifier(hidden_layer_sizes=(64,), random_state=0))
    model.fit(da.from_array(X, chunks=(1000, 784)), da.from_array(y, chunks=1000), classes=np.arange(10))
    assert model.score(X_test, y_test) > 0.8
