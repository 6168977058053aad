# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin typed wrappers over the C kernels in csrc/. Every kernel runs with the GIL released.

Arrays arrive already validated and converted by fastmlp.model (float32 / int32 / int64,
C-contiguous, right shapes); this layer trusts them, as scikit-learn's Cython helpers do.
"""
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from libc.stdint cimport int32_t, int64_t
from scipy.linalg.cython_blas cimport sgemm, sgemv

from fastmlp._kernels cimport *

ACTIVATIONS = {"relu": FM_RELU, "leaky_relu": FM_LEAKY_RELU, "sigmoid": FM_SIGMOID,
               "tanh": FM_TANH, "identity": FM_IDENTITY}
HEADS = {("softmax", "cross_entropy"): FM_SOFTMAX_CE, ("sigmoid", "mse"): FM_SIGMOID_MSE,
         ("sigmoid", "cross_entropy"): FM_SIGMOID_CE, ("softmax", "mse"): FM_SOFTMAX_MSE,
         ("identity", "mse"): FM_IDENTITY_MSE, ("identity", "huber"): FM_IDENTITY_HUBER}
HUBER_DELTA = FM_HUBER_DELTA  # where the huber loss turns from squared to linear


def dropout_keeps(uint64_t seed, int64_t step, int64_t row, int layer, int unit, float rate):
    """Whether csrc/dropout.c keeps that unit (for tests)."""
    return bool(fm_dropout_keeps(seed, step, row, layer, unit, rate))


def target_words(int head, int k):
    """4-byte words of target per row for a head with k outputs (csrc/loss.c): 1 label, or
    regression's k float values."""
    return fm_target_words(head, k)
MAX_LAYERS = FM_MAX_LAYERS
LAZY_MAX_STEPS = FM_LAZY_MAX_STEPS  # batch 1's longest chunk: its lazy rows' matrix powers
OPTIMIZER_KINDS = {"sgd": FM_SGD, "adam": FM_ADAM}
MAX_PARTS = FM_MAX_PARTS  # a step or block in parts is cut in at most this many
SMALL_PRODUCT = FM_SMALL_PRODUCT  # multiply-adds OpenBLAS's small-matrix kernels take at most
SMALL_PIECE_ROWS = FM_SMALL_PIECE_ROWS  # ... and the fewest rows fm_gemm_rows cuts a product into
UPDATES = {"none": FM_NO_UPDATE, "plain": FM_PLAIN_SGD, "velocity": FM_VELOCITY_SGD,
           "gradient": FM_GRADIENT_STEP}
STATUS_OK = FM_OK
STATUS_NONFINITE_LOSS = FM_NONFINITE_LOSS


cdef const char *_core_name = fm_blas_core_name(<const void *>sgemm)
# The kernel set SciPy's OpenBLAS runs on this CPU ("SkylakeX", "Haswell", ...; it follows
# OPENBLAS_CORETYPE), or None for another BLAS.
BLAS_CORE = _core_name.decode("ascii", "replace") if _core_name != NULL else None


cdef fm_blas make_blas() noexcept:
    cdef fm_blas table
    table.sgemm = <fm_sgemm_fn>sgemm
    table.sgemv = <fm_sgemv_fn>sgemv
    table.row_sgemm = NULL
    table.small_kernels = fm_blas_has_small_kernels(_core_name)
    table.tiles = 0
    return table


# blis.cy.sgemm's C signature, as Cython names its capsule: another (a future blis) is not used.
_BLIS_SGEMM = "void (int, int, int, int, int, float, float const *, int, float const *, int, float, float *, int)"


def _blis_sgemm_capsule():
    """blis.cy.sgemm's C function, as the blis package exports it, or None without the package."""
    try:
        import blis.cy
        capsule = blis.cy.__pyx_capi__["sgemm"]
    except (ImportError, AttributeError, KeyError):
        return None
    return capsule if PyCapsule_GetName(capsule) == _BLIS_SGEMM.encode() else None


cdef fm_blas make_blis():
    """SciPy's OpenBLAS for the rest, every GEMM to BLIS (row_sgemm NULL without blis)."""
    cdef fm_blas table = make_blas()
    capsule = _blis_sgemm_capsule()
    table.small_kernels = 0
    if capsule is not None:
        table.row_sgemm = <fm_row_sgemm_fn>PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))
    return table

cdef fm_blas make_tiles():
    """SciPy's OpenBLAS for the rest, the products of a step's parts to csrc/tiles.c."""
    cdef fm_blas table = make_blas()
    table.small_kernels = 0
    table.tiles = 1
    return table

# Read-only after import: the function pointers SciPy's OpenBLAS exports, and whether it has
# kernels for small matrices (parts.c cuts its products for them where it does); and the same
# with the GEMMs going to BLIS, where the blis package is installed.
cdef fm_blas BLAS = make_blas()
cdef fm_blas BLIS = make_blis()
cdef fm_blas TILES = make_tiles()
# our own products run at speed here (AVX2 and FMA); elsewhere only their portable loop would
TILES_FAST = bool(fm_tiles_fast())
BLAS_SMALL_KERNELS = bool(BLAS.small_kernels)
BLIS_AVAILABLE = BLIS.row_sgemm != NULL
# OpenBLAS's thread-count setter (process-wide), when SciPy's BLAS has one.
cdef fm_set_threads_fn BLAS_SET_THREADS = fm_find_blas_threads_setter(<const void *>sgemm)
# Whether fastmlp can hold the BLAS to one thread (then threads of ours take the parts of a step).
BLAS_THREADS_CONTROLLABLE = BLAS_SET_THREADS != NULL

# While threads of ours run a call's parts, the BLAS is held to one thread
# so that they do not each ask it for two. The setting is the whole process's, and fits may run
# in several Python threads at once: the first holder saves the count, the last one restores it.
# Both run with the GIL held, so no two of them interleave.
cdef int _blas_holders = 0
cdef int _blas_saved = 1


cdef int hold_blas():
    """Holds the BLAS to one thread; returns the thread count it had before the first hold."""
    global _blas_holders, _blas_saved
    if BLAS_SET_THREADS == NULL:
        return 1
    if _blas_holders == 0:
        _blas_saved = BLAS_SET_THREADS(1)
    _blas_holders += 1
    return _blas_saved


cdef void release_blas():
    global _blas_holders
    if BLAS_SET_THREADS == NULL:
        return
    _blas_holders -= 1
    if _blas_holders == 0:
        BLAS_SET_THREADS(_blas_saved)


cdef class _HeldBLAS:
    """with _HeldBLAS(in_parts, wanted) as held: a call in parts with held.threads = `wanted`
    threads of ours (the plan's count, from n_threads, OMP_NUM_THREADS or the CPUs), the BLAS held
    to one thread meanwhile; a whole call, or one where the BLAS cannot be held, runs on one thread
    and holds nothing."""
    cdef bint held
    cdef readonly int threads

    def __cinit__(self, bint in_parts, int wanted):
        self.held = in_parts and BLAS_SET_THREADS != NULL
        self.threads = 1
        if self.held:
            hold_blas()
            self.threads = max(1, wanted)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.held:
            release_blas()


def blas_has_small_kernels(str core_name):
    """Whether OpenBLAS's kernel set of this name has small-matrix SGEMM kernels (for tests)."""
    return bool(fm_blas_has_small_kernels(core_name.encode("ascii")))


_TILE_KINDS = {"scale": FM_TILE_SCALE, "bias_act": FM_TILE_BIAS_ACT, "velocity": FM_TILE_VELOCITY}


def tiles_product(const float[:, ::1] A, const float[:, ::1] B, float[:, ::1] C, *,
                  bint a_transposed=False, str kind="scale", float alpha=1.0, float beta=0.0,
                  const float[::1] bias=None, str activation="identity", float[:, ::1] V=None,
                  float mu=0.0, float decay=0.0, bint portable=False, bint packed=False,
                  float[::1] packed_c=None, bint c_in_panels=False, bint stream=False):
    """C finished in place with op(A) @ B through csrc/tiles.c (op(A) = A^T when a_transposed),
    as fm_tile_out's kind says; portable: its plain C loop even where the AVX2 tiles run;
    packed: B read from fm_pack_rows's panels, and a transposed A from fm_pack_columns's;
    packed_c (fm_packed_floats(m, n) floats): C also written there in those panels;
    c_in_panels: C lives in packed_c alone (fm_tile_out's c NULL), and C is not touched; stream:
    packed_c written with streaming stores. For tests."""
    import numpy as np
    cdef int m = A.shape[1] if a_transposed else A.shape[0]
    cdef int k = A.shape[0] if a_transposed else A.shape[1]
    cdef int n = B.shape[1]
    if B.shape[0] != k or C.shape[0] != m or C.shape[1] != n:
        raise ValueError(f"tiles_product: op(A) is {m} x {k}, B {B.shape[0]} x {n}, C {C.shape[0]} x {C.shape[1]}")
    if kind == "bias_act" and (bias is None or bias.shape[0] != n):
        raise ValueError("tiles_product: bias_act needs a bias of one value per column")
    if kind == "velocity" and (V is None or V.shape[0] != m or V.shape[1] != n):
        raise ValueError("tiles_product: velocity needs V shaped as C")
    cdef fm_tile_out out
    out.kind = _TILE_KINDS[kind]
    out.ldc = n
    out.alpha, out.beta, out.mu, out.decay = alpha, beta, mu, decay
    out.activation = ACTIVATIONS[activation]
    out.bias = &bias[0] if bias is not None else NULL
    out.v = &V[0, 0] if V is not None and V.size else NULL
    if packed_c is not None and packed_c.shape[0] != fm_packed_floats(m, n):
        raise ValueError("tiles_product: packed_c needs fm_packed_floats(m, n) floats")
    out.packed = &packed_c[0] if packed_c is not None and packed_c.shape[0] else NULL
    out.packed_panel = FM_TILE_COLS * m
    out.stream = stream
    cdef float[::1] panels, columns
    cdef fm_operands op = fm_row_major(&A[0, 0] if A.size else NULL, A.shape[1], a_transposed,
                                       &B[0, 0] if B.size else NULL, n)
    if packed and B.size:
        panels = np.full(fm_packed_floats(k, n), np.nan, np.float32)
        fm_pack_rows(&panels[0], op.b, k, n, 0, k)
        op = fm_packed_b(op, &panels[0], k)
    if packed and a_transposed and A.size:
        columns = np.full(fm_packed_columns_floats(k, m), np.nan, np.float32)
        fm_pack_columns(&columns[0], op.a, m, k, 0, m)
        op = fm_packed_a(op, &columns[0], k)
    if c_in_panels and out.packed == NULL:
        raise ValueError("tiles_product: c_in_panels needs packed_c")
    if m > 0 and n > 0:
        out.c = NULL if c_in_panels else &C[0, 0]
        fm_tiles(m, n, k, &op, &out, portable)


def all_finite(const float[::1] x):
    """Whether x holds no NaN or Inf (csrc/finite.c), for the input checks."""
    cdef int finite
    with nogil:
        finite = fm_all_finite(&x[0], x.shape[0]) if x.shape[0] > 0 else 1
    return bool(finite)


def param_count(int[::1] sizes):
    return fm_param_count(&sizes[0], sizes.shape[0] - 1)


cdef class Workspace:
    """The buffer of a call's activations, deltas and lists, laid out by csrc/layout.c for its
    plan (a dict of fm_plan's fields: fastmlp._plan.Plan.c_struct), and the BLAS table the plan
    names ("openblas", "blis" or "tiles")."""
    cdef float[::1] buffer
    cdef fm_workspace ws
    cdef const fm_blas *blas
    cdef readonly int rows

    def __cinit__(self, int[::1] sizes, fm_plan plan, str blas="openblas"):
        import numpy as np
        if blas == "blis" and not BLIS_AVAILABLE:
            raise RuntimeError("fastmlp internal error: a plan names BLIS, which is not installed")
        self.blas = &BLIS if blas == "blis" else &TILES if blas == "tiles" else &BLAS
        self.rows = plan.rows
        self.buffer = np.empty(fm_workspace_size(&sizes[0], sizes.shape[0] - 1, &plan), np.float32)
        self.ws.plan = plan
        self.ws.buffer = &self.buffer[0]
        self.ws.weights_packed = 0


cdef class Network:
    """The C view of one model: its sizes, kinds, and the arena buffers it owns on the Python side."""
    cdef fm_net net
    cdef int[::1] sizes
    cdef float[::1] params, grads, state1, state2, dropout

    def __cinit__(self, int[::1] sizes, int activation, int head, float[::1] params, float[::1] grads):
        self.sizes = sizes
        self.params = params
        self.grads = grads
        self.net.n_layers = sizes.shape[0] - 1
        self.net.sizes = &sizes[0]
        self.net.activation = activation
        self.net.head = head
        self.net.params = &params[0]
        self.net.grads = &grads[0]
        self.net.state1 = NULL
        self.net.state2 = NULL
        self.net.dropout = NULL
        self.net.dropout_seed = 0
        self.net.steps = 0
        self.net.max_norm = 0.0

    def set_regularisation(self, float[::1] dropout, uint64_t seed, float max_norm):
        """Dropout rates per layer's outputs ((n_layers + 1,), or None: none), the dropout
        stream's seed, and max_norm (0: none), for training (csrc/dropout.c, optim.c)."""
        self.dropout = dropout
        self.net.dropout = &dropout[0] if dropout is not None else NULL
        self.net.dropout_seed = seed
        self.net.max_norm = max_norm

    @property
    def steps(self):
        """Steps trained so far: where the dropout stream is."""
        return self.net.steps

    @steps.setter
    def steps(self, int64_t value):
        self.net.steps = value

    def set_state(self, float[::1] state1=None, float[::1] state2=None):
        """Attach the optimizer's buffers (velocity, or Adam's moments); None detaches."""
        self.state1 = state1
        self.state2 = state2
        self.net.state1 = &state1[0] if state1 is not None else NULL
        self.net.state2 = &state2[0] if state2 is not None else NULL

    def train_chunk(self, fm_optimizer opt, Workspace ws, const float[:, ::1] X, const int32_t[::1] y,
                    const int64_t[::1] order, int64_t first_batch, int64_t n_batches,
                    double loss_sum=0.0, int n_threads=1, bint weights_unchanged=False):
        """Train minibatches [first_batch, first_batch + n_batches) of an epoch, of the
        workspace's plan's rows each, on the engine the plan names. weights_unchanged: the
        last call on ws trained these weights and nothing changed them since, so their packed
        copy in ws (Plan.packed_operands) is current.

        Returns (status, loss_sum, correct, rows, steps, optimizer_step, threads); loss_sum
        continues from the one passed in, so the epoch's sum does not depend on where chunks end;
        threads is how many ran it (up to n_threads, in parts only). opt is a dict with
        fm_optimizer's fields (fastmlp.model's _optimizer_struct), which Cython turns into the C
        struct.
        """
        if y.shape[0] != X.shape[0] * ws.ws.plan.target_words:
            raise RuntimeError("fastmlp internal error: the targets do not match the rows and the plan")
        cdef fm_stats stats
        stats.loss_sum = loss_sum
        stats.correct = 0
        stats.rows = 0
        stats.steps = 0
        cdef const int64_t *order_ptr = &order[0] if order is not None else NULL
        cdef int status, threads
        ws.ws.weights_packed = weights_unchanged
        with _HeldBLAS(ws.ws.plan.parts > 1, n_threads) as held:
            threads = held.threads
            with nogil:
                status = fm_train_chunk(ws.blas, &self.net, &opt, &ws.ws, &X[0, 0], &y[0], order_ptr,
                                        X.shape[0], first_batch, n_batches, threads, &stats)
        if status == FM_MISSING_STATE:
            raise RuntimeError("fastmlp internal error: the optimizer's state buffers are not attached")
        if status == FM_BAD_PLAN:
            raise RuntimeError("fastmlp internal error: the compiled engine cannot run this plan")
        return status, stats.loss_sum, stats.correct, stats.rows, stats.steps, opt.step, threads

    def loss_and_gradients(self, Workspace ws, const float[:, ::1] X, const int32_t[::1] y):
        """Mean loss over X; the gradients land in the grads buffer. ws: planned whole, for X's rows."""
        if ws.ws.plan.parts != 1 or ws.rows < X.shape[0]:
            raise RuntimeError("fastmlp internal error: loss_and_gradients needs a whole plan for every row")
        if y.shape[0] != X.shape[0] * ws.ws.plan.target_words:
            raise RuntimeError("fastmlp internal error: the targets do not match the rows and the plan")
        cdef double loss
        with nogil:
            loss = fm_loss_and_gradients(ws.blas, &self.net, &ws.ws, &X[0, 0], &y[0], X.shape[0])
        return loss

    def predict(self, Workspace ws, const float[:, ::1] X, float[:, ::1] out, int n_threads=1):
        cdef int threads
        with _HeldBLAS(ws.ws.plan.parts > 1, n_threads) as held:
            threads = held.threads
            with nogil:
                fm_predict(ws.blas, &self.net, &ws.ws, &out[0, 0], &X[0, 0], X.shape[0], threads)

    def evaluate(self, Workspace ws, const float[:, ::1] X, const int32_t[::1] y, int n_threads=1):
        """Returns (loss summed over rows, correct count)."""
        if y.shape[0] != X.shape[0] * ws.ws.plan.target_words:
            raise RuntimeError("fastmlp internal error: the targets do not match the rows and the plan")
        cdef fm_stats stats
        stats.loss_sum = 0.0
        stats.correct = 0
        stats.rows = 0
        stats.steps = 0
        cdef int threads
        with _HeldBLAS(ws.ws.plan.parts > 1, n_threads) as held:
            threads = held.threads
            with nogil:
                fm_evaluate(ws.blas, &self.net, &ws.ws, &X[0, 0], &y[0], X.shape[0], threads, &stats)
        return stats.loss_sum, stats.correct


# ---- single kernels, exposed so the tests can check each against the reference ----

def gemm(bint trans_a, bint trans_b, float alpha, const float[:, ::1] A, const float[:, ::1] B,
         float beta, float[:, ::1] C):
    cdef int M = C.shape[0], N = C.shape[1]
    cdef int K = A.shape[0] if trans_a else A.shape[1]
    with nogil:
        fm_gemm(&BLAS, trans_a, trans_b, M, N, K, alpha, &A[0, 0], A.shape[1], &B[0, 0],
                B.shape[1], beta, &C[0, 0], C.shape[1])


def bias_act_forward(float[:, ::1] z, const float[::1] bias, int activation):
    with nogil:
        fm_bias_act_forward(&z[0, 0], &bias[0], z.shape[0], z.shape[1], activation)


def act_backward(float[:, ::1] delta, const float[:, ::1] a, int activation):
    with nogil:
        fm_act_backward(&delta[0, 0], &a[0, 0], delta.shape[0], delta.shape[1], activation)


def dense_forward(float[:, ::1] out, const float[:, ::1] x, const float[:, ::1] W,
                  const float[::1] b, int activation):
    with nogil:
        fm_dense_forward(&BLAS, &out[0, 0], &x[0, 0], &W[0, 0], &b[0], x.shape[0], W.shape[0],
                         W.shape[1], activation)


def dense_backward(float[:, ::1] dx, float[:, ::1] dW, float[::1] db, const float[:, ::1] dz,
                   const float[:, ::1] x, const float[:, ::1] W, float alpha=1.0, float beta=0.0):
    cdef float *dx_ptr = &dx[0, 0] if dx is not None else NULL
    with nogil:
        fm_dense_backward(&BLAS, dx_ptr, &dW[0, 0], &db[0], &dz[0, 0], &x[0, 0], &W[0, 0],
                          x.shape[0], W.shape[0], W.shape[1], alpha, beta)


def head_output(float[:, ::1] z, int head):
    with nogil:
        fm_head_output(&z[0, 0], z.shape[0], z.shape[1], head)


def head_loss(float[:, ::1] z, float[:, ::1] dz, const int32_t[::1] y, int head, float scale):
    """Returns (loss summed over rows, correct count); z becomes the outputs, dz the gradient.
    y: the labels, or for the identity head the float targets' words (targets.view(np.int32))."""
    if y.shape[0] < z.shape[0] * fm_target_words(head, z.shape[1]):
        raise ValueError("head_loss: y holds fewer targets than z has rows")
    cdef int64_t correct = 0
    cdef double loss
    cdef float *dz_ptr = &dz[0, 0] if dz is not None else NULL
    with nogil:
        loss = fm_head_loss(&z[0, 0], dz_ptr, &y[0], z.shape[0], z.shape[1], head, scale, &correct)
    return loss, correct


def sgd_update(float[::1] p, float[::1] v, const float[::1] g, fm_optimizer opt):
    cdef float *v_ptr = &v[0] if v is not None else NULL
    with nogil:
        fm_sgd_update(&p[0], v_ptr, &g[0], p.shape[0], &opt)


def adam_update(float[::1] p, float[::1] m, float[::1] v, const float[::1] g, fm_optimizer opt,
                float bc1, float bc2):
    with nogil:
        fm_adam_update(&p[0], &m[0], &v[0], &g[0], p.shape[0], &opt, bc1, bc2)


cdef class _SparseRows:
    """Rows [begin, end) of X held as non-zeros (fm_sparse), for the kernel tests below; with
    the groups of rows listed where a forward pass over `width` columns takes them."""
    cdef fm_sparse s
    cdef int32_t[::1] buffer, labels

    def __cinit__(self, const float[:, ::1] X, int begin, int end, int width=0):
        import numpy as np
        cdef int n = end - begin
        self.buffer = np.empty(fm_sparse_layout(NULL, NULL, X.shape[1], max(n, 1), width), np.int32)
        self.labels = np.zeros(max(X.shape[0], 1), np.int32)
        fm_sparse_layout(&self.s, &self.buffer[0], X.shape[1], max(n, 1), width)
        fm_sparse_gather(&self.s, &self.labels[0], 1, &X[0, 0], &self.labels[0], NULL, begin, n, begin)


def sparse_groups_pay(int width):
    """Whether the sparse forward pass over `width` columns takes rows in groups on this CPU."""
    return bool(fm_sparse_groups_pay(width))


def _column_end(int n_out, int col_begin, col_end):
    cdef int end = n_out if col_end is None else col_end
    if not 0 <= col_begin < end <= n_out:
        raise ValueError(f"columns [{col_begin}, {end}) must lie within [0, {n_out}) and hold one or more")
    return end


def sparse_forward(float[:, ::1] out, const float[:, ::1] X, const float[:, ::1] W, const float[::1] b,
                   int activation, int col_begin=0, col_end=None, bint grouped=True):
    """Columns [col_begin, col_end) of out (all of them by default); the others are left alone.
    grouped=False: the rows one at a time even where the CPU would take them in groups."""
    cdef int end = _column_end(W.shape[1], col_begin, col_end)
    cdef _SparseRows rows = _SparseRows(X, 0, X.shape[0], end - col_begin if grouped else 0)
    with nogil:
        fm_sparse_forward(&out[0, col_begin], out.shape[1], &rows.s, &W[0, col_begin], W.shape[1],
                          &b[col_begin], end - col_begin, activation)


def sparse_relu_backward(float[:, ::1] dx, const float[:, ::1] X, const float[:, ::1] dz,
                         const float[:, ::1] W):
    """dx (n, n_in) = (dz W^T) * (X > 0), X (n, n_in) listed as non-zeros as training lists a
    ReLU's outputs; W (n_in, n_out), dz (n, n_out)."""
    if not (dx.shape[0] == X.shape[0] == dz.shape[0] and dx.shape[1] == X.shape[1] == W.shape[0]
            and dz.shape[1] == W.shape[1]):
        raise ValueError("expected dx and X of shape (n, n_in), dz (n, n_out) and W (n_in, n_out)")
    cdef _SparseRows rows = _SparseRows(X, 0, X.shape[0])
    with nogil:
        fm_sparse_relu_backward(&dx[0, 0], dx.shape[1], &rows.s, &dz[0, 0], dz.shape[1], &W[0, 0],
                                W.shape[1], W.shape[1])


def sparse_update(float[:, ::1] W, float[:, ::1] vW, const float[:, ::1] X, const float[:, ::1] dz,
                  float lr, float mu, float c, int row_begin, int row_end, int split_at,
                  int col_begin=0, col_end=None):
    """X's rows held in two parts, [0, split_at) and [split_at, n), as the training loop does;
    columns [col_begin, col_end) of W (all of them by default)."""
    cdef int end = _column_end(W.shape[1], col_begin, col_end)
    # gathered as training gathers them: with the groups of rows where the forward pass takes them
    cdef _SparseRows first = _SparseRows(X, 0, split_at, end - col_begin)
    cdef _SparseRows second = _SparseRows(X, split_at, X.shape[0], end - col_begin)
    cdef const fm_sparse *parts[2]
    parts[0] = &first.s
    parts[1] = &second.s
    cdef float *v_ptr = &vW[0, 0] if vW is not None else NULL
    with nogil:
        fm_sparse_update(&W[0, col_begin], v_ptr + col_begin if v_ptr != NULL else NULL,
                         W.shape[1], parts, 2, &dz[0, col_begin], dz.shape[1], row_begin, row_end,
                         end - col_begin, lr, mu, c)
