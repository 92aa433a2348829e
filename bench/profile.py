"""``python -m bench.profile VERSION_DIR [--signature NAME] [--batch N] [--rounds N] [--json FILE]``: where the time of
one served call goes, in the exported graph as TF Serving runs it.

The SavedModel is loaded with the session loader (:class:`zoo.export.session.SessionModel`, TF Serving's path);
the signature's one string input gets ``--batch`` BBC News test texts (as the ``text`` feature of serialized
``tf.Example`` for a ``classify`` signature). After ``--rounds`` untimed warm-up calls,
``--rounds`` calls are timed plainly (their median is the call's wall time) and one more runs under TensorFlow's
full trace, which times every op the executor ran (ops inside a decoding ``while`` loop once per step). Ops are
summed by type into the :data:`CATEGORIES` below; on several threads their busy time can exceed the wall time, and
wall time the ops do not cover is the executor's own (scheduling, the loop's bookkeeping, Python-free but not free).

The console shows the table; ``--json`` keeps it. Example, on a served model::

    python -m zoo.run bert --set epochs=1 --set max_examples=400 --export-dir /tmp/sm
    python -m bench.profile /tmp/sm/bert/1 --signature classify --batch 32

>>> category("_MklBatchMatMulV2"), category("SelectV2"), category("WordpieceTokenizeWithOffsets")
('matrix products', 'gather, slice, select, concat', 'tokenizer and string ops')
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from zoo.cli import OneLineParser
from zoo.errors import UsageError

ROUNDS = 5
BATCH = 32
TOP_OPS = 12

# Op types by what they do; a type in none of these is "other". oneDNN's rewrites (_Mkl*, _Fused*) count as their op.
CATEGORIES = {
    "matrix products": {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "FusedMatMul",
                        "Conv2D", "FusedConv2D", "NativeLayerNormMatMul"},
    "casts": {"Cast"},
    "softmax": {"Softmax", "LogSoftmax"},
    "elementwise and reductions": {
        "AddV2", "Add", "Sub", "Mul", "RealDiv", "Div", "FloorDiv", "FloorMod", "Neg", "Square", "SquaredDifference",
        "Sqrt", "Rsqrt", "Exp", "Log", "Tanh", "Erf", "Erfc", "Relu", "Gelu", "Sigmoid", "Pow", "Maximum", "Minimum",
        "Mean", "Sum", "Max", "Min", "Prod", "ArgMax", "TopKV2", "Cumsum", "BiasAdd", "Equal", "NotEqual", "Less",
        "LessEqual", "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr", "LogicalNot", "All", "Any", "Abs", "Sign",
        "Floor", "StatelessRandomUniformV2", "Select"},
    "gather, slice, select, concat": {
        "GatherV2", "GatherNd", "ResourceGather", "StridedSlice", "Slice", "ConcatV2", "SelectV2", "Pack", "Unpack",
        "Reshape", "Transpose", "Tile", "OneHot", "ExpandDims", "Squeeze", "Fill", "ZerosLike", "OnesLike", "Pad",
        "PadV2", "BroadcastTo", "Range", "Where", "ScatterNd", "TensorScatterUpdate", "MatrixBandPart"},
    "loop and control flow": {"Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond", "Identity",
                              "IdentityN", "NoOp", "StatelessWhile", "While", "StatelessIf", "If",
                              "StatefulPartitionedCall", "PartitionedCall", "Assert"},
    "variables and constants": {"ReadVariableOp", "VarHandleOp", "Const", "Placeholder", "_Arg", "_Retval",
                                "Shape", "ShapeN", "Size", "Rank"},
}
STRING_MARKERS = ("String", "Regex", "Wordpiece", "Sentencepiece", "SentencePiece", "Ragged", "Utf8", "Unicode",
                  "Normalize", "Lookup", "Bpe", "Split", "Decode", "Encode", "Tokenize")


def op_type(timeline_label: str, node_name: str) -> str:
    """The op type in a step-stats timeline label (``name = Type(inputs)``), oneDNN's prefix removed."""
    kind = timeline_label.split(" = ", 1)[1].split("(", 1)[0] if " = " in timeline_label else node_name
    for prefix in ("_Mkl", "_Fused"):
        if kind.startswith(prefix) and kind != prefix:
            kind = kind[len(prefix):]
    return kind


def category(kind: str) -> str:
    """The :data:`CATEGORIES` name of an op type (``_Mkl`` rewrites included), or "tokenizer and string ops", or
    "other"."""
    kind = op_type(f"x = {kind}()", kind)
    for name, kinds in CATEGORIES.items():
        if kind in kinds:
            return name
    if any(marker in kind for marker in STRING_MARKERS):
        return "tokenizer and string ops"
    return "other"


def op_times(run_metadata) -> tuple[collections.Counter, collections.Counter]:
    """Microseconds and executions of every op type in a traced call's ``RunMetadata``."""
    micros, counts = collections.Counter(), collections.Counter()
    for device in run_metadata.step_stats.dev_stats:
        for node in device.node_stats:
            kind = op_type(node.timeline_label, node.node_name)
            micros[kind] += node.op_end_rel_micros - node.op_start_rel_micros
            counts[kind] += 1
    return micros, counts


def profile(version_dir: str | Path, signature: str, texts: Sequence[str], rounds: int = ROUNDS) -> dict[str, Any]:
    """The call's wall seconds (median of ``rounds``) and its ops' time by category and by type (see the module
    docstring)."""
    import numpy as np
    import tensorflow as tf

    from zoo.export.session import SessionModel
    from zoo.export.signatures import CLASSIFY, bytes_example

    with SessionModel(version_dir) as model:
        if signature not in model.signature_defs:
            raise UsageError(f"{version_dir} has no signature {signature!r}; it has "
                             f"{', '.join(sorted(s for s in model.signature_defs if not s.startswith('__')))}")
        definition = model.signature_defs[signature]
        if len(definition.inputs) != 1:
            raise UsageError(f"{signature} takes {', '.join(sorted(definition.inputs))}; only a signature with "
                             "one text input is profiled")
        (name,) = definition.inputs
        if definition.method_name == CLASSIFY:  # serialized tf.Examples, the text in their "text" feature
            texts = [bytes_example(text=[text.encode()]).SerializeToString() for text in texts]
        feeds = {definition.inputs[name].name: np.array(list(texts), dtype=object)}
        fetches = {key: value.name for key, value in definition.outputs.items()}
        for _ in range(rounds):
            model.session.run(fetches, feeds)
        walls = []
        for _ in range(rounds):
            started = time.perf_counter()
            model.session.run(fetches, feeds)
            walls.append(time.perf_counter() - started)
        metadata = tf.compat.v1.RunMetadata()
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        model.session.run(fetches, feeds, options=options, run_metadata=metadata)
    micros, counts = op_times(metadata)
    busy = sum(micros.values())
    by_category = collections.Counter()
    for kind, spent in micros.items():
        by_category[category(kind)] += spent
    return {
        "saved_model": str(version_dir), "signature": signature, "batch": len(texts), "rounds": rounds,
        "wall_seconds": statistics.median(walls), "wall_seconds_each": walls,
        "op_busy_seconds": busy / 1e6, "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "categories": {name: {"seconds": spent / 1e6, "share_of_busy": spent / max(busy, 1)}
                       for name, spent in by_category.most_common()},
        "ops": {kind: {"seconds": spent / 1e6, "runs": counts[kind], "category": category(kind)}
                for kind, spent in micros.most_common()},
    }


def table(result: dict[str, Any], top: int = TOP_OPS) -> str:
    """The console view: wall time, busy op time, the categories, the costliest op types."""
    lines = [f"{result['saved_model']} {result['signature']}, batch {result['batch']}: wall "
             f"{result['wall_seconds'] * 1e3:.1f} ms (median of {result['rounds']}), ops busy "
             f"{result['op_busy_seconds'] * 1e3:.1f} ms (one traced call)", "",
             f"{'category':32s} {'ms':>9s} {'busy':>6s}"]
    lines += [f"{name:32s} {entry['seconds'] * 1e3:9.1f} {entry['share_of_busy']:6.1%}"
              for name, entry in result["categories"].items()]
    lines += ["", f"{'op type':32s} {'ms':>9s} {'runs':>6s}"]
    lines += [f"{kind:32s} {entry['seconds'] * 1e3:9.1f} {entry['runs']:6d}"
              for kind, entry in list(result["ops"].items())[:top]]
    return "\n".join(lines)


def bbc_test_texts(count: int) -> list[str]:
    from zoo.data.bbc_news import load_bbc_news

    texts = [str(text) for text in load_bbc_news().test[0]]
    return (texts * (count // len(texts) + 1))[:count]


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("version_dir", help="an exported version, e.g. saved_models/bert/1")
    parser.add_argument("--signature", default="serving_default")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"texts per call (default {BATCH})")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"warm-up and timed calls each (default {ROUNDS})")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    import tensorflow as tf

    if args.batch < 1 or args.rounds < 1:
        parser.error("--batch and --rounds must be at least 1")
    if not (Path(args.version_dir) / "saved_model.pb").is_file():
        parser.error(f"{args.version_dir} is not an exported version (no saved_model.pb in it)")
    try:
        result = profile(args.version_dir, args.signature, bbc_test_texts(args.batch), args.rounds)
    except UsageError as error:
        parser.error(str(error))
    except tf.errors.OpError as error:  # the model's own failure on these inputs: one line, not a traceback
        first_line = error.message.strip().splitlines()[0] if error.message.strip() else ""
        parser.exit(1, f"{parser.prog}: {args.signature} failed: {type(error).__name__}: {first_line}\n")
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
