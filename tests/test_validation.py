"""Every bad input raises, naming the argument; every good layout and dtype converts once."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastmlp.optim import SGD, Adam

from fastmlp._validation import (
    check_choice,
    check_float,
    check_int,
    check_sizes,
    check_validation_data,
    check_X,
    check_y,
)

RNG = np.random.default_rng(0)
BASE = RNG.normal(size=(7, 5)).astype(np.float32)


# --- check_X: accepted inputs -------------------------------------------------------------


def _layouts():
    big = RNG.normal(size=(14, 10))
    return {
        "float32-C": BASE.copy(),
        "float64-C": BASE.astype(np.float64),
        "float16": BASE.astype(np.float16),
        "float32-F": np.asfortranarray(BASE),
        "float64-F": np.asfortranarray(BASE.astype(np.float64)),
        "strided": big[::2, ::2],
        "negative-strides": big[::-2, ::-2],
        "transposed-view": np.ascontiguousarray(BASE.T).T,
        "big-endian": BASE.astype(">f4"),
        "uint8": RNG.integers(0, 256, size=(7, 5), dtype=np.uint8),
        "int64": RNG.integers(-1000, 1000, size=(7, 5)),
        "int8-F": np.asfortranarray(RNG.integers(-128, 128, size=(7, 5), dtype=np.int8)),
        "uint64": RNG.integers(0, 2**40, size=(7, 5), dtype=np.uint64),
        "bool": RNG.random((7, 5)) < 0.5,
        "list": BASE.tolist(),
        "list-of-ints": [[1, 2, 3], [4, 5, 6]],
        "tuple": tuple(map(tuple, BASE.tolist())),
        "object-numbers": np.array([[1, 2.5], [True, np.float32(3)]], dtype=object),
        "one-row": BASE[:1],
        "one-column": BASE[:, :1],
    }


@pytest.mark.parametrize("X", list(_layouts().values()), ids=list(_layouts()))
def test_check_X_converts_to_float32_c_contiguous(X):
    out = check_X(X)
    expected = np.asarray(X, dtype=np.float64).astype(np.float32)
    assert isinstance(out, np.ndarray) and type(out) is np.ndarray
    assert out.dtype == np.float32 and out.ndim == 2 and out.flags.c_contiguous
    assert_array_equal(out, expected)


def test_check_X_returns_float32_c_contiguous_input_without_copy():
    X = BASE.copy()
    out = check_X(X, n_features=5)
    assert out is X
    assert np.shares_memory(out, X)


def test_check_X_does_not_copy_a_read_only_float32_array():
    X = BASE.copy()
    X.flags.writeable = False
    assert np.shares_memory(check_X(X), X)


def test_check_X_does_not_modify_its_input():
    X = np.asfortranarray(BASE.astype(np.float64))
    before = X.copy()
    check_X(X)
    assert_array_equal(X, before)
    assert X.flags.f_contiguous


def test_check_X_accepts_large_but_finite_float64_and_integers():
    X = np.array([[3e38, -3e38], [1e-50, 0.0]])
    assert np.isfinite(check_X(X)).all()
    big = np.array([[np.iinfo(np.int64).max, np.iinfo(np.int64).min]])
    assert np.isfinite(check_X(big)).all()


def test_check_X_matches_n_features():
    assert check_X(BASE, n_features=5).shape == (7, 5)


# --- check_X: errors ------------------------------------------------------------------------


def _raises(cls, fn, *args, match=None, **kwargs):
    with pytest.raises(cls) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "got" in message and "expected" in message, message
    if match is not None:
        for part in [match] if isinstance(match, str) else match:
            assert part in message, f"{part!r} not in {message!r}"
    return message


X_TYPE_ERRORS = {
    "strings": np.array([["a", "b"], ["c", "d"]]),
    "string-list": [["1", "2"], ["3", "4"]],
    "bytes": np.array([[b"a", b"b"]]),
    "complex": np.ones((2, 2), dtype=complex),
    "complex-list": [[1j, 2], [3, 4]],
    "datetime": np.array([["2020-01-01"]], dtype="datetime64[D]"),
    "timedelta": np.array([[1, 2]], dtype="timedelta64[s]"),
    "object-none": np.array([[1.0, None]], dtype=object),
    "object-str": np.array([[1.0, "2"]], dtype=object),
    "object-complex": np.array([[1.0, 2j]], dtype=object),
    "structured": np.zeros((2, 2), dtype=[("a", "f4")]),
    "none": None,
    "dict": {"a": 1},
}


@pytest.mark.parametrize("X", list(X_TYPE_ERRORS.values()), ids=list(X_TYPE_ERRORS))
@pytest.mark.parametrize("name", ["X", "validation_data[0]"])
def test_check_X_type_errors(X, name):
    message = _raises(TypeError, check_X, X, name=name, match=f"{name}: got")
    assert "real numbers" in message


def test_check_X_sparse_hint():
    sparse = pytest.importorskip("scipy.sparse")
    _raises(TypeError, check_X, sparse.csr_matrix(np.eye(3)), match="toarray()")


def test_check_X_describes_arrays_by_shape_and_dtype():
    message = _raises(ValueError, check_X, np.zeros(1000))
    assert "shape (1000,)" in message and "float64" in message
    assert "0., 0." not in message


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros(784), ["X: got", "(784,)", "reshape(1, -1) for one sample", "reshape(-1, 1) for one feature"]),
        ([1.0, 2.0], ["X: got", "reshape(1, -1)"]),
        (np.zeros((5, 28, 28)), ["X: got", "(5, 28, 28)", "reshape(len(X), -1) to flatten images"]),
        (np.zeros((2, 3, 4, 5)), ["X: got", "reshape(len(X), -1)"]),
        (np.float64(3.0), ["X: got", "2-D"]),
        (np.zeros((0, 5)), ["X: got", "X is empty"]),
        ([], ["X: got"]),
        (np.zeros((5, 0)), ["X: got", "at least one feature"]),
        ([[1, 2], [3]], ["X: got", "same length"]),
    ],
)
def test_check_X_shape_errors(X, match):
    _raises(ValueError, check_X, X, match=match)


def test_check_X_wrong_feature_count():
    _raises(
        ValueError,
        check_X,
        np.zeros((5, 3)),
        n_features=784,
        match="X: got 3 features (shape (5, 3)); expected 784, the network's input size",
    )


def test_check_X_transposed_hint():
    _raises(ValueError, check_X, np.zeros((784, 5)), n_features=784, match=["X: got 5 features", "X.T"])


def test_one_image_as_predict_gets_it_says_how_to_make_it_one_row():
    import fastmlp

    net = fastmlp.MLP([784, 10], seed=0)
    for image in (np.zeros((28, 28)), np.zeros(784)):
        with pytest.raises(ValueError, match=r"X.reshape\(1, -1\)"):
            net.predict(image)


@pytest.mark.parametrize(
    "keyword, advice",
    [
        (dict(lr=0.1), "pass optimizer=fastmlp.SGD(lr=0.1)"),
        (dict(learning_rate=0.01), "pass optimizer=fastmlp.SGD(lr=0.01)"),
        (dict(momentum=0.9), "pass optimizer=fastmlp.SGD(momentum=0.9)"),
        (dict(beta1=0.8), "pass optimizer=fastmlp.Adam(beta1=0.8)"),
        (dict(batchsize=16), "did you mean 'batch_size'?"),
        (dict(colour="red"), "expected one of X, y, epochs, batch_size, optimizer"),
    ],
)
def test_fit_says_where_an_unknown_keyword_goes(keyword, advice):
    import fastmlp

    net = fastmlp.MLP([4, 3], seed=0)
    before = [w.copy() for w in net.weights]
    name = next(iter(keyword))
    with pytest.raises(TypeError) as caught:
        net.fit(np.zeros((6, 4)), np.zeros(6, int), **keyword)
    assert str(caught.value).startswith(f"fit() got an unexpected keyword argument {name!r}")
    assert advice in str(caught.value)
    for w, b in zip(net.weights, before):
        assert_array_equal(w, b)  # nothing trained


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("order", ["C", "F"])
def test_check_X_non_finite(dtype, bad, order):
    X = np.zeros((4, 6), dtype=dtype, order=order)
    X[2, 3] = bad
    X[3, 1] = bad
    _raises(ValueError, check_X, X, match=["X: got 2 non-finite values", "(row 2, col 3)", "finite"])


def test_check_X_float64_beyond_float32_range():
    X = np.zeros((3, 3))
    X[1, 2] = 1e39
    _raises(ValueError, check_X, X, match=["X: got 1 non-finite value", "too large for float32", "(row 1, col 2)"])


def test_check_X_non_finite_in_a_list_and_an_object_array():
    _raises(ValueError, check_X, [[0.0, float("nan")]], match="(row 0, col 1)")
    _raises(ValueError, check_X, np.array([[0.0, float("inf")]], dtype=object), match="(row 0, col 1)")


def test_check_X_overflow_and_nan_raise_no_numpy_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for X in [np.full((2, 2), 1e300), np.array([[np.inf, -np.inf]])]:
            with pytest.raises(ValueError):
                check_X(X)


# --- check_y -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "y",
    [
        np.array([0, 1, 2, 1], dtype=np.int64),
        np.array([0, 1, 2, 1], dtype=np.int32),
        np.array([0, 1, 2, 1], dtype=np.uint8),
        np.array([0, 1, 2, 1], dtype=np.int8),
        np.array([0, 1, 2, 1], dtype=np.uint64),
        np.array([0.0, 1.0, 2.0, 1.0]),
        np.array([0.0, 1.0, 2.0, 1.0], dtype=np.float32),
        np.array([[0], [1], [2], [1]]),
        np.array([0, 0, 1, 2, 2, 1, 1, 1])[::2],
        np.array([1, 2, 1, 0])[::-1],
        [0, 1, 2, 1],
        (0, 1, 2, 1),
        [[0], [1], [2], [1]],
        np.array([0, 1, 2, 1], dtype=object),
    ],
    ids=lambda y: f"{type(y).__name__}-{getattr(y, 'dtype', '')}-{np.shape(y)}",
)
def test_check_y_accepts(y):
    out = check_y(y, 4, 3)
    assert out.dtype == np.int32 and out.ndim == 1 and out.flags.c_contiguous
    assert_array_equal(out, np.asarray(y).ravel().astype(np.int64))


def test_check_y_bool_labels_are_0_and_1():
    assert_array_equal(check_y(np.array([True, False, True]), 3, 2), [1, 0, 1])


def test_check_y_returns_a_private_copy_even_of_int32_labels():
    """The compiled code indexes with the labels: the caller's array must not reach it."""
    y = np.array([0, 1, 2], dtype=np.int32)
    assert not np.shares_memory(check_y(y, 3, 3), y)


def test_check_y_none_skips_length_and_class_checks():
    assert_array_equal(check_y([0, 7], None, None), [0, 7])


@pytest.mark.parametrize(
    "y",
    [
        np.array(["cat", "dog"]),
        ["0", "1"],
        np.array([b"a", b"b"]),
        np.array([1 + 0j, 0j]),
        np.array([0, None], dtype=object),
        np.array(["0", 1], dtype=object),
        None,
    ],
)
def test_check_y_type_errors(y):
    _raises(TypeError, check_y, y, 2, 2, match="y: got")


def test_check_y_string_hint():
    _raises(TypeError, check_y, np.array(["cat", "dog"]), 2, 2, match="np.unique")


@pytest.mark.parametrize(
    "y, n, k, match",
    [
        (
            np.eye(10)[[1, 2, 3]],
            3,
            10,
            ["y: got", "(3, 10)", "y must hold class labels, not one-hot rows: pass y.argmax(axis=1)"],
        ),
        (np.zeros((1, 5)), 5, 10, ["y: got", "y.ravel()"]),
        (np.zeros((2, 2, 2)), 2, 10, ["y: got", "1-D"]),
        (np.int64(3), 1, 10, ["y: got", "1-D"]),
        ([0.5, 1.0], 2, 10, ["y: got 0.5 at index 0", "integer class labels"]),
        ([0.0, np.nan, np.nan], 3, 10, ["y: got 2 non-finite", "index 1"]),
        ([0.0, np.inf], 2, 10, ["y: got 1 non-finite", "index 1"]),
        ([0, -1, 2], 3, 10, ["y: got label -1", "[0, 10)"]),
        ([-1, 1, 1], 3, 2, ["y: got label -1", "(y + 1) // 2"]),
        ([0, 10, 3], 3, 10, "y: got label 10; expected labels in [0, 10) for a network with 10 outputs"),
        ([1, 10, 3], 3, 10, ["y: got label 10", "1-based"]),
        (np.array([0, 2**40], dtype=np.uint64), 2, 10, ["y: got label 1099511627776"]),
        (
            np.zeros(6000, dtype=int),
            60000,
            10,
            "X and y: got 60000 rows in X and 6000 labels in y; expected the same number",
        ),
        ([], 0, 10, ["y: got", "y is empty"]),
        ([[0, 1], [2]], 2, 10, ["y: got", "same length"]),
    ],
)
def test_check_y_value_errors(y, n, k, match):
    _raises(ValueError, check_y, y, n, k, match=match)


def test_check_y_huge_label_without_n_classes():
    _raises(ValueError, check_y, np.array([2**40]), 1, None, match=["y: got label", "int32"])


# --- check_sizes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sizes",
    [
        [784, 30, 10],
        (784, 10),
        np.array([784, 30, 10]),
        [np.int64(4), np.int32(3)],
        np.array([3, 2], dtype=np.uint8),
        [1, 1, 1, 1, 1],
    ],
)
def test_check_sizes_accepts(sizes):
    out = check_sizes(sizes)
    assert out == [int(s) for s in sizes]
    assert all(type(s) is int for s in out)


@pytest.mark.parametrize(
    "sizes, cls, match",
    [
        ([784, 30.0, 10], TypeError, ["sizes: got", "sizes[1] is 30.0"]),
        ([784, True, 10], TypeError, "sizes[1] is True"),
        ([784, "30", 10], TypeError, "sizes[1] is '30'"),
        ([784, None], TypeError, "sizes[1] is None"),
        (np.array([784.0, 10.0]), TypeError, "sizes[0] is 784.0"),
        (np.array([True, True]), TypeError, "sizes[0] is True"),
        ("784, 10", TypeError, "sizes: got"),
        (784, TypeError, "sizes: got 784"),
        (None, TypeError, "sizes: got None"),
        ({784, 10}, TypeError, "sizes: got"),
        (np.array([[784, 10]]), TypeError, "sizes: got"),
        ([784], ValueError, ["sizes: got [784]", "at least two"]),
        ([], ValueError, "at least two"),
        ([784, 0, 10], ValueError, ["sizes[1] is 0", "positive"]),
        ([784, 30, -10], ValueError, "sizes[2] is -10"),
    ],
)
def test_check_sizes_errors(sizes, cls, match):
    _raises(cls, check_sizes, sizes, match=match)


# --- check_choice, check_int, check_float -----------------------------------------------------

CHOICES = ("relu", "leaky_relu", "sigmoid", "tanh")


def test_check_choice_accepts():
    assert check_choice("activation", "tanh", CHOICES) == "tanh"
    assert type(check_choice("activation", np.str_("relu"), CHOICES)) is str


@pytest.mark.parametrize("value", [None, 1, b"relu", ["relu"]])
def test_check_choice_type_errors(value):
    _raises(
        TypeError,
        check_choice,
        "activation",
        value,
        CHOICES,
        match=["activation: got", "'relu', 'leaky_relu', 'sigmoid', 'tanh'"],
    )


@pytest.mark.parametrize("value, hint", [("ReLU", "Did you mean 'relu'?"), ("sigmod", "'sigmoid'"), ("softplus", None)])
def test_check_choice_value_errors(value, hint):
    message = _raises(
        ValueError,
        check_choice,
        "activation",
        value,
        CHOICES,
        match=[f"activation: got {value!r}", "one of 'relu', 'leaky_relu', 'sigmoid', 'tanh'"],
    )
    if hint:
        assert hint in message
    else:
        assert "Did you mean" not in message


@pytest.mark.parametrize("value", [0, 5, np.int64(5), np.uint8(5), np.int32(0)])
def test_check_int_accepts(value):
    out = check_int("epochs", value, minimum=0)
    assert out == value and type(out) is int


@pytest.mark.parametrize(
    "value, cls, match",
    [
        (32.0, TypeError, ["batch_size: got 32.0", "Write 32"]),
        (np.float64(32.5), TypeError, "batch_size: got"),
        (True, TypeError, "batch_size: got True"),
        (np.bool_(True), TypeError, "batch_size: got"),
        ("32", TypeError, "batch_size: got '32'"),
        (None, TypeError, "batch_size: got None"),
        (0, ValueError, "batch_size: got 0; expected an int >= 1"),
        (np.int64(-3), ValueError, "batch_size: got -3"),
    ],
)
def test_check_int_errors(value, cls, match):
    _raises(cls, check_int, "batch_size", value, minimum=1, match=match)


def test_check_int_without_minimum():
    assert check_int("seed", -5) == -5


@pytest.mark.parametrize("value", [0, 0.0, 0.5, np.float32(0.25), np.int64(0), 0.999])
def test_check_float_accepts(value):
    out = check_float("validation_split", value, 0, 1, high_open=True)
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize(
    "value, kwargs, cls, match",
    [
        (
            1.0,
            dict(low=0, high=1, high_open=True),
            ValueError,
            "validation_split: got 1.0; expected a finite number in [0, 1)",
        ),
        (-0.1, dict(low=0, high=1, high_open=True), ValueError, "[0, 1)"),
        (0.0, dict(low=0, low_open=True), ValueError, "a finite number > 0"),
        (-1, dict(low=0), ValueError, ">= 0"),
        (2, dict(high=1), ValueError, "<= 1"),
        (1, dict(high=1, high_open=True), ValueError, "< 1"),
        (float("nan"), {}, ValueError, "validation_split: got nan; expected a finite number"),
        (float("inf"), dict(low=0), ValueError, "got inf"),
        (np.float64("nan"), dict(low=0, high=1), ValueError, "got nan"),
        ("0.1", {}, TypeError, "validation_split: got '0.1'"),
        (None, {}, TypeError, "got None"),
        (True, {}, TypeError, "got True"),
        (1j, {}, TypeError, "got 1j"),
    ],
)
def test_check_float_errors(value, kwargs, cls, match):
    _raises(cls, check_float, "validation_split", value, match=match, **kwargs)


# --- check_validation_data -----------------------------------------------------------------


def test_check_validation_data_accepts_tuple_and_list():
    X = np.asfortranarray(RNG.normal(size=(6, 4)))
    y = np.array([0, 1, 2, 0, 1, 2], dtype=np.int64)
    for pair in [(X, y), [X, y], (X.tolist(), y.tolist())]:
        Xv, yv = check_validation_data(pair, 4, 3)
        assert Xv.dtype == np.float32 and Xv.flags.c_contiguous and yv.dtype == np.int32
        assert_array_equal(Xv, X.astype(np.float32))
        assert_array_equal(yv, y)


@pytest.mark.parametrize(
    "data, cls, match",
    [
        (np.zeros((2, 4)), TypeError, "validation_data: got an array of shape (2, 4)"),
        (None, TypeError, "validation_data: got None"),
        ({"X": 1, "y": 2}, TypeError, "validation_data: got"),
        ((np.zeros((2, 4)),), ValueError, "validation_data: got a tuple of length 1"),
        ((np.zeros((2, 4)), [0, 1], [1.0, 1.0]), ValueError, ["length 3", "Sample weights"]),
        ((np.zeros((2, 3)), [0, 1]), ValueError, "validation_data[0]: got 3 features"),
        ((np.zeros(4), [0]), ValueError, "validation_data[0]: got"),
        ((np.array([["a"] * 4]), [0]), TypeError, "validation_data[0]: got"),
        ((np.zeros((2, 4)), [0, 5]), ValueError, "validation_data[1]: got label 5"),
        ((np.zeros((2, 4)), ["a", "b"]), TypeError, "validation_data[1]: got"),
        ((np.zeros((2, 4)), np.eye(3)[:2]), ValueError, "validation_data[1].argmax(axis=1)"),
        (
            (np.zeros((2, 4)), [0, 1, 2]),
            ValueError,
            "validation_data[0] and validation_data[1]: got 2 rows in validation_data[0] and 3 labels",
        ),
    ],
)
def test_check_validation_data_errors(data, cls, match):
    _raises(cls, check_validation_data, data, 4, 3, match=match)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: SGD(lr=1e-46), "lr"),  # positive in float64, 0 in float32
        (lambda: SGD(lr=1e39), "lr"),  # finite in float64, inf in float32
        (lambda: Adam(eps=1e-50), "eps"),
        (lambda: Adam(beta2=0.99999999), "beta2"),  # 1.0 in float32: Adam's correction divides by 0
    ],
)
def test_hyperparameters_are_checked_in_the_float32_the_updates_use(make, name):
    with pytest.raises(ValueError, match=rf"^{name}: got .* in float32"):
        make()


@pytest.mark.parametrize("init", [("uniform", -1e300, 1e300), ("normal", 1e39)])
@pytest.mark.parametrize("module", ["fastmlp", "reference"])
def test_inits_that_overflow_float32_are_refused(init, module):
    import fastmlp

    make = fastmlp.MLP if module == "fastmlp" else fastmlp.reference.MLP
    with pytest.raises(ValueError, match=r"^init: got .*beyond float32's range"):
        make([4, 3, 2], init=init)


def test_save_refuses_non_finite_parameters_naming_them(tmp_path):
    import fastmlp

    net = fastmlp.MLP([4, 3, 2], seed=0)
    net.biases[1][0] = np.inf
    with pytest.raises(ValueError, match=r"^save: parameter b2 holds 1 non-finite"):
        net.save(tmp_path / "model.npz")
    assert not list(tmp_path.iterdir())


def test_arguments_are_named_in_their_errors(tmp_path):
    import fastmlp
    from fastmlp.callbacks import EarlyStopping

    net = fastmlp.MLP([4, 3, 2], seed=0)
    X, y = np.random.default_rng(0).uniform(size=(10, 4)), np.arange(10) % 2
    with pytest.raises(TypeError, match=r"^callbacks: got the class EarlyStopping itself"):
        net.fit(X, y, callbacks=[EarlyStopping], verbose=0)
    with pytest.raises(TypeError, match=r"^path: got None"):
        net.save(None)
    with pytest.raises(ValueError, match=r"^X: got a number too large for a float at \(0, 0\)"):
        net.fit(np.array([[10**400, 1, 2, 3]] * 10, dtype=object), y, verbose=0)
    with pytest.raises(ValueError, match=r"^verbose: got 1.0"):
        net.fit(X, y, verbose=1.0)


def test_pickle_and_deepcopy_carry_the_parameters_as_save_does():
    import copy
    import pickle
    import fastmlp

    net = fastmlp.MLP([4, 3, 2], activation="tanh", seed=0)
    X, y = np.random.default_rng(0).uniform(size=(10, 4)), np.arange(10) % 2
    net.fit(X, y, epochs=2, verbose=0)
    for twin in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert twin.activation == "tanh" and twin.weights[0] is not net.weights[0]
        assert_array_equal(twin.predict_proba(X), net.predict_proba(X))
