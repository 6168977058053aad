"""The plan of a call into the compiled engine, decided here and nowhere else.

Which engine runs a fit, a predict or a gradient (batch 1, a minibatch cut in parts for threads,
the first layer over mostly-zero inputs, a ReLU's zeros skipped, the first layer stepped by
columns on private copies) follows from the network, the rows per step, the data and the BLAS.
``make_plan`` decides it once per call; the frozen ``Plan`` crosses into C as one ``fm_plan``
struct (``Plan.c_struct``), which csrc/ obeys without deciding again, and the workspace is laid
out for it (``_kernels.Workspace``). Every plan gives the same results within float32 rounding,
and a plan's results do not depend on the thread count. Tests build a Plan directly
(``dataclasses.replace`` of the one ``make_plan`` gives) to steer a call onto an engine.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from fastmlp import _kernels
from fastmlp._validation import spread_rows
from fastmlp.optim import Adam

MAX_PARTS = _kernels.MAX_PARTS  # a step or an inference block is cut in at most this many parts
PART_MIN_ROWS = 32  # rows a part of a minibatch gets at least: each part's GEMMs pack the
# layer's weights again and its lists of non-zeros cost the update a pass (benchmarks/README.md)
INFERENCE_PART_MIN_ROWS = 256  # ... and a part of an inference block, for the same reason
TWO_PARTS_MIN_ROWS = 64  # predict / evaluate on fewer rows runs whole: a thread costs more
INFERENCE_BLOCK_ROWS = 512  # rows per block in predict / evaluate: activations stay in cache
SPARSE_MAX_ROWS = 2048  # above this, the non-zeros of a minibatch take too much memory
SPARSE_MAX_CELLS = 1 << 21  # rows x features held as non-zeros at most: 64 MB of room (16
# bytes a cell, twice: a step's and the next one's)
PRIVATE_MAX_WEIGHTS = 1 << 23  # first-layer weights the parts copy (with their velocity: 64 MB);
# a bigger layer is stepped in place
LAZY_MIN_WEIGHTS = 16384  # a first layer smaller than this is not worth lazy momentum
FORWARD_COLUMNS_MIN_WEIGHTS = 1 << 16  # a dense first layer this big makes its outputs by columns,
# its panels then read once a step, not once a part, which pays for the phase's barrier: cifar's
# 3072 x 1024 ran 10-15% faster at batch 128, 784-32-10 up to 10% slower (benchmarks/README.md)
STREAMED_PANELS_MIN_WEIGHTS = 1 << 21  # a first layer this big (24 MB with its velocity and
# panels, near a server's L3 cache) writes its panels past the caches: cifar's 3072 x 1024 ran 3-10%
# faster; 784 x 1024 (in cache) up to half as fast (benchmarks/README.md)
PACKED_FIRST_LAYER_MAX_WEIGHTS = 1 << 20  # a bigger first layer keeps W beside its panels: its
# update reads a line of every panel per tile, far apart, and lost there (benchmarks/README.md)
SPARSE_HIDDEN_MIN_OUTPUTS = 64  # the sparse kernels keep 64 output columns in registers, and
# lose to the GEMM on narrower layers
BATCH1_COLUMNS_MIN_WEIGHTS = 1 << 16  # batch 1 cuts a first layer this big by columns for threads:
# two barriers a row cost less than half its forward pass and step
BATCH1_PART_MIN_COLUMNS = 128  # ... into parts of at least this many of its columns
BATCH1_CHUNK_BYTES = 2e8  # parameter traffic per call at batch 1: about 0.1 s of its
# memory-bound updates (16 bytes a parameter: weight and velocity, read and written)
MOSTLY_ZEROS_SAMPLE_ROWS = 256  # rows spread over X that judge it (1000 took 4% of predicting
# 10000 MNIST rows; the answer only picks the faster path, both give the same results)

# How the parameters are stepped, as csrc/ names it (fm_update): plain SGD; SGD with a velocity
# (momentum or weight decay); or the gradient first, then the optimizer (Adam, Nesterov).
UPDATES = _kernels.UPDATES


@dataclass(frozen=True)
class Plan:
    """How one call runs. Only ``make_plan`` decides; tests build one to force an engine.

    Attributes
    ----------
    sizes : tuple of int
        The network's layer widths.
    rows : int
        Rows per step (fit) or per block (inference): what the workspace holds.
    parts : int
        1: each step or block runs whole. 2 .. ``MAX_PARTS``: it is cut in that many fixed parts,
        set by the rows alone, never by the machine, which any number of threads up to that run
        with the same bits (csrc/minibatch.c, csrc/infer.c).
    threads : int
        The most threads that take the parts: the machine's, or the network's ``n_threads``
        (the thread tuner picks within it).
    update : str
        ``"none"`` (inference, gradients), ``"plain"``, ``"velocity"`` or ``"gradient"``.
    sparse_inputs : bool
        The first layer reads the inputs as their non-zeros (csrc/sparse.c).
    lazy_first_layer : bool
        Batch 1 with a velocity: first-layer rows whose input is zero are brought up to date
        lazily, in one matrix power (csrc/batch1.c).
    first_layer_by_columns : bool
        SGD steps the sparse first layer by its output columns, a part's columns each.
    private_columns : bool
        ... each part on a private copy of its columns, so the cores never share a written line.
    hidden_lists : tuple of int
        Layers l >= 1 whose inputs (a ReLU's outputs) are listed as non-zeros; each step then
        sums over them where they are mostly zeros, and takes the GEMM where not.
    fixed_chunk_steps : int
        Steps per call into C where where chunks end must not depend on timing (batch 1, whose
        lazy rows are caught up at each call's end); 0: timed.
    packed_operands : bool
        Training with the tiles, in parts: a dense first layer's forward pass reads its weights
        packed in panels of 16 columns (packed at a call's start and after each step; the layers
        after read theirs in place), and the weight gradients read the deltas, packed as each
        part makes them (csrc/tiles.c).
    batch1_columns : bool
        Batch 1, each row whole (csrc/batch1.c), but the first layer's forward pass and SGD step
        cut by its columns in ``parts``, which threads take; thread 0 runs the rest of a row
        between them. With plain or velocity SGD where momentum is not lazy, and a first layer of
        at least ``BATCH1_COLUMNS_MIN_WEIGHTS`` and small enough for private copies.
    stream_panels : bool
        With packed operands over dense inputs, plain or velocity SGD, and a first layer of at
        least ``STREAMED_PANELS_MIN_WEIGHTS`` (not kept in its panels alone): the step writes that
        layer's panels past the caches (streaming stores). Its weights, velocity and panels then
        outgrow the L3 cache, so the next step reads the panels from memory anyway, and the
        stores no longer read each line from memory before writing it.
    first_forward_by_columns : bool
        With packed operands over dense inputs, and a first layer of at least
        ``FORWARD_COLUMNS_MIN_WEIGHTS``: the first layer's forward pass runs in a phase of its own,
        each part a share of its output columns for every row of the step, so that a step reads
        the layer's panels once, not once a part; shuffled rows are then gathered a step ahead.
    packed_first_layer : bool
        With packed operands over dense inputs and plain or velocity SGD, and a first layer of at
        most ``PACKED_FIRST_LAYER_MAX_WEIGHTS``: its weights (which no backward product reads)
        live in their panels for the whole call; each step's update reads and writes only them,
        and the weights are written back from them at the call's end. A step then moves a third
        less of that layer's memory.
    blas : str
        Where the GEMMs go: ``"openblas"`` (SciPy's), ``"blis"`` (the blis package's) or
        ``"tiles"`` (fastmlp's own, csrc/tiles.c, with the bias, activation and SGD step fused).
    target_words : int
        4-byte words of target per row, as the network's head reads them
        (``_kernels.target_words``): 1 label, or a regression's float values, one per output.
    """

    sizes: tuple
    rows: int
    parts: int = 1
    threads: int = 1
    update: str = "none"
    sparse_inputs: bool = False
    lazy_first_layer: bool = False
    first_layer_by_columns: bool = False
    private_columns: bool = False
    hidden_lists: tuple = ()
    fixed_chunk_steps: int = 0
    packed_operands: bool = False
    packed_first_layer: bool = False
    batch1_columns: bool = False
    stream_panels: bool = False
    first_forward_by_columns: bool = False
    blas: str = "openblas"
    target_words: int = 1

    def __post_init__(self):
        for problem in _inconsistencies(self):
            raise ValueError(f"plan: {problem}; got {self!r}")

    def c_struct(self):
        """The plan as the dict Cython turns into csrc/'s fm_plan."""
        return {
            "rows": self.rows,
            "parts": self.parts,
            "update": UPDATES[self.update],
            "sparse_inputs": self.sparse_inputs,
            "lazy_first_layer": self.lazy_first_layer,
            "by_columns": self.first_layer_by_columns,
            "private_columns": self.private_columns,
            "hidden_lists": sum(1 << layer for layer in self.hidden_lists),
            "packed_operands": self.packed_operands,
            "target_words": self.target_words,
            "packed_first_layer": self.packed_first_layer,
            "batch1_columns": self.batch1_columns,
            "stream_panels": self.stream_panels,
            "forward_by_columns": self.first_forward_by_columns,
        }


def _inconsistencies(plan):
    """What no engine can run, in words."""
    n_layers = len(plan.sizes) - 1
    split = plan.parts > 1
    checks = [
        (plan.rows >= 1, "rows must be at least 1"),
        (plan.target_words in (1, plan.sizes[-1]), "target_words must be 1 or the outputs"),
        (1 <= plan.parts <= MAX_PARTS, f"parts must be between 1 and {MAX_PARTS}"),
        (1 <= plan.threads <= plan.parts, "threads must be between 1 and parts"),
        (plan.update in UPDATES, f"update must be one of {sorted(UPDATES)}"),
        (plan.blas in ("openblas", "blis", "tiles"), "blas must be openblas, blis or tiles"),
        (plan.blas != "blis" or _kernels.BLIS_AVAILABLE, "blas is blis, and the blis package is not installed"),
        (split or not plan.sparse_inputs, "sparse_inputs needs parts > 1"),
        (split or not plan.hidden_lists, "hidden_lists needs parts > 1"),
        (
            not plan.packed_operands or (split and plan.blas == "tiles"),
            "packed_operands needs parts > 1 and blas tiles",
        ),
        (not plan.packed_operands or plan.update != "none", "packed_operands is for training (an update)"),
        (
            not plan.packed_first_layer
            or (plan.packed_operands and not plan.sparse_inputs and plan.update in ("plain", "velocity")),
            "packed_first_layer needs packed_operands, dense inputs and plain or velocity SGD",
        ),
        (all(1 <= layer < n_layers for layer in plan.hidden_lists), "hidden_lists are layers 1 .. L - 1"),
        (
            not plan.stream_panels
            or (
                plan.packed_operands
                and not (plan.sparse_inputs or plan.packed_first_layer)
                and plan.update in ("plain", "velocity")
            ),
            "stream_panels needs packed_operands, dense inputs, plain or velocity SGD and W kept",
        ),
        (
            not plan.first_forward_by_columns or (plan.packed_operands and not plan.sparse_inputs),
            "first_forward_by_columns needs packed_operands and dense inputs",
        ),
        (
            plan.sparse_inputs or not plan.first_layer_by_columns,
            "first_layer_by_columns needs sparse_inputs",
        ),
        (
            plan.update in ("plain", "velocity") or not plan.first_layer_by_columns,
            "first_layer_by_columns is for plain or velocity SGD",
        ),
        (
            not plan.sparse_inputs or plan.update not in ("plain", "velocity") or plan.first_layer_by_columns,
            "sparse_inputs with plain or velocity SGD needs first_layer_by_columns",
        ),
        (
            plan.first_layer_by_columns or plan.batch1_columns or not plan.private_columns,
            "private_columns needs first_layer_by_columns or batch1_columns",
        ),
        (
            not plan.lazy_first_layer or (plan.rows == 1 and plan.parts == 1 and plan.update == "velocity"),
            "lazy_first_layer is for batch 1, whole, with a velocity",
        ),
        (
            not plan.lazy_first_layer or 1 <= plan.fixed_chunk_steps <= _kernels.LAZY_MAX_STEPS,
            f"lazy_first_layer needs fixed_chunk_steps in 1 .. {_kernels.LAZY_MAX_STEPS}",
        ),
        (plan.update == "none" or plan.rows == 1 or split, "minibatches of more than one row need parts > 1"),
        (
            not plan.batch1_columns
            or (
                plan.rows == 1
                and split
                and plan.update in ("plain", "velocity")
                and not (plan.lazy_first_layer or plan.sparse_inputs or plan.hidden_lists or plan.packed_operands)
            ),
            "batch1_columns is for batch 1 with plain or velocity SGD, in parts, and nothing of the minibatch engine's",
        ),
    ]
    return [problem for ok, problem in checks if not ok]


def update_rule(optimizer):
    """How an optimizer's step runs in C, as of its settings now (see UPDATES)."""
    if isinstance(optimizer, Adam) or optimizer.nesterov:
        return "gradient"
    return "velocity" if optimizer.momentum > 0 or optimizer.weight_decay > 0 else "plain"


def make_plan(
    task, sizes, activation, X, batch_size=None, optimizer=None, threads=1, target_words=1, regularised=False
):
    """The plan for one call, with the network's target_words; regularised (dropout, max-norm):
    training runs in parts (csrc/minibatch.c has them, batch1.c not), the hidden layers as GEMMs
    and the first layer stepped in place."""
    plan = _engine_plan(task, sizes, activation, X, batch_size, optimizer, threads, regularised)
    return plan if target_words == 1 else dataclasses.replace(plan, target_words=target_words)


def _engine_plan(task, sizes, activation, X, batch_size, optimizer, threads, regularised):
    """The plan for one call: task "fit" (with batch_size and optimizer), "infer" (predict and
    evaluate) or "gradients" (loss_and_gradients, every row in one block); threads: how many the
    call may use (fastmlp._threads.available)."""
    sizes = tuple(int(width) for width in sizes)
    if task == "gradients":
        return Plan(sizes, rows=max(1, len(X)))
    zeros = mostly_zeros(X)
    if task == "infer":
        rows = max(1, min(len(X), INFERENCE_BLOCK_ROWS))
        if len(X) < TWO_PARTS_MIN_ROWS:
            return Plan(sizes, rows=rows)
        return _in_parts(sizes, activation, rows, zeros, "none", _part_count(rows, INFERENCE_PART_MIN_ROWS), threads)
    update = update_rule(optimizer)
    if batch_size == 1 and not regularised:
        steps = max(1, min(_kernels.LAZY_MAX_STEPS, int(BATCH1_CHUNK_BYTES / (16 * _param_count(sizes)))))
        lazy = zeros and update == "velocity" and sizes[0] * sizes[1] >= LAZY_MIN_WEIGHTS
        if lazy or not _batch1_by_columns(sizes, update):
            return Plan(sizes, rows=1, update=update, lazy_first_layer=lazy, fixed_chunk_steps=steps)
        parts = max(2, min(MAX_PARTS, sizes[1] // BATCH1_PART_MIN_COLUMNS))
        return Plan(
            sizes,
            rows=1,
            parts=parts,
            threads=_part_threads(parts, threads),
            update=update,
            batch1_columns=True,
            private_columns=True,  # in place, each core's prefetcher fetched the other's columns
        )
    parts = _part_count(batch_size, PART_MIN_ROWS)
    return _in_parts(sizes, activation, batch_size, zeros, update, parts, threads, regularised)


def _batch1_by_columns(sizes, update):
    """Whether batch 1 cuts its first layer by columns for threads (Plan.batch1_columns)."""
    return (
        update in ("plain", "velocity")
        and sizes[1] >= 2 * BATCH1_PART_MIN_COLUMNS
        and BATCH1_COLUMNS_MIN_WEIGHTS <= sizes[0] * sizes[1]
        and (sizes[0] + 1) * sizes[1] <= PRIVATE_MAX_WEIGHTS
    )


def _part_threads(parts, threads):
    """The most threads that take a call's parts: threads of ours hold the BLAS to one; where it
    cannot be held, one thread runs them all."""
    return max(1, min(parts, threads)) if _kernels.BLAS_THREADS_CONTROLLABLE else 1


def _part_count(rows, min_rows):
    """Parts of a step or block of `rows` rows: from the rows alone, so that any machine gets the
    same bits; at least two, so that two threads always have work."""
    return max(2, min(MAX_PARTS, rows // min_rows))


def _in_parts(sizes, activation, rows, zeros, update, parts, threads, regularised=False):
    """A minibatch step or an inference block cut in parts; regularised (dropout, max-norm): no
    lists of a ReLU's non-zeros, and the first layer stepped in place."""
    sparse = zeros and _sparse_fits(rows, sizes[0])
    by_columns = sparse and update in ("plain", "velocity")
    blas = _parts_blas(small_hidden_fit=sparse and update != "none" and _small_hidden_layers(sizes))
    packed = blas == "tiles" and update != "none"
    in_panels = _first_layer_in_panels(sizes, blas, sparse, update, regularised)
    first_weights = sizes[0] * sizes[1] if packed and not sparse else 0  # 0: no dense panels
    return Plan(
        sizes,
        rows=rows,
        parts=parts,
        threads=_part_threads(parts, threads),
        update=update,
        sparse_inputs=sparse,
        first_layer_by_columns=by_columns,
        private_columns=by_columns and not regularised and (sizes[0] + 1) * sizes[1] <= PRIVATE_MAX_WEIGHTS,
        # predict and evaluate read the weights as they are: packing them at each call cost small
        # calls more than it saved large ones (benchmarks/README.md)
        packed_operands=packed,
        packed_first_layer=in_panels,
        stream_panels=update in ("plain", "velocity")
        and not in_panels
        and first_weights >= STREAMED_PANELS_MIN_WEIGHTS,
        first_forward_by_columns=first_weights >= FORWARD_COLUMNS_MIN_WEIGHTS,
        hidden_lists=() if regularised else _hidden_lists(sizes, activation, rows, _gemm_wins(blas)),
        blas=blas,
    )


def _first_layer_in_panels(sizes, blas, sparse, update, regularised):
    """Whether a fit keeps its first layer in its panels alone (Plan.packed_first_layer): with the
    tiles' SGD step over dense inputs, no max-norm (which reads the weights by columns after each
    step), and a first layer small enough."""
    return (
        blas == "tiles"
        and not sparse
        and update in ("plain", "velocity")
        and not regularised
        and sizes[0] * sizes[1] <= PACKED_FIRST_LAYER_MAX_WEIGHTS
    )


def _parts_blas(small_hidden_fit=False):
    """Where the products of a part go: our own tiles where AVX2 and FMA run them; else BLIS,
    whose kernels for small and skinny products outran OpenBLAS's on a part's GEMMs. But a fit
    over mostly-zero inputs, whose first layer the sparse kernels take, with hidden layers small
    enough for OpenBLAS's AVX-512 small-matrix kernels, goes to those: they ran its products
    faster than the tiles (MNIST on Zen 4, batch 32 and 128: 4-8%; on 1024 x 1024 hidden layers
    OpenBLAS lost a third; benchmarks/README.md)."""
    if small_hidden_fit and _kernels.BLAS_SMALL_KERNELS:
        return "openblas"
    if _kernels.TILES_FAST:
        return "tiles"
    return "blis" if _kernels.BLIS_AVAILABLE else "openblas"


def _small_hidden_layers(sizes):
    """Whether every hidden layer's product takes OpenBLAS's small-matrix kernels in the smallest
    pieces of rows fm_gemm_rows cuts."""
    piece = _kernels.SMALL_PIECE_ROWS
    return all(piece * n_in * n_out <= _kernels.SMALL_PRODUCT for n_in, n_out in zip(sizes[1:-1], sizes[2:]))


def _gemm_wins(blas):
    """Whether a part's products are ones the GEMM beat a ReLU's lists with (see _hidden_lists)."""
    return blas == "tiles" or (blas == "openblas" and _kernels.BLAS_SMALL_KERNELS)


def _hidden_lists(sizes, activation, rows, gemm_wins):
    """The layers after a ReLU that may read its outputs as non-zeros: unless the products are ones
    the GEMM won with (OpenBLAS's small-matrix kernels or our tiles, on MNIST and standardised
    MNIST at batch 32 and 128), where the layer is wide enough for the sparse kernels and the lists
    fit the bounds of the inputs'."""
    if activation != "relu" or gemm_wins or not _sparse_fits(rows, sum(sizes[1:-1])):
        return ()
    return tuple(layer for layer in range(1, len(sizes) - 1) if sizes[layer + 1] >= SPARSE_HIDDEN_MIN_OUTPUTS)


def _sparse_fits(rows, n_features):
    """Whether blocks of `rows` rows may be held as non-zeros: room for every input is kept (16
    bytes each, for this step and the next), so wide inputs or big batches stay dense."""
    return rows <= SPARSE_MAX_ROWS and rows * n_features <= SPARSE_MAX_CELLS


def _param_count(sizes):
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def mostly_zeros(X):
    """Whether most inputs are exactly zero (as in images), judged on rows spread over X."""
    sample = spread_rows(X, MOSTLY_ZEROS_SAMPLE_ROWS)
    return bool(np.count_nonzero(sample) < 0.5 * sample.size)
