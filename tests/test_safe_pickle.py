"""The restricted unpickler: arrays round-trip; code, raw memory access and crafted array states are refused."""

import io
import os
import pickle
import subprocess
import textwrap

import numpy as np
import pytest

from zoo.data.safe_pickle import UnsafePickleError, load_arrays
from zoo.errors import DataError
from zoo_subprocess import PYTHON, REPO, env_with

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1
    from numpy.core.multiarray import _reconstruct


class RunsCode:
    """Unpickling this would call os.system: the classic pickle exploit."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/zoo-pickle-pwned",))


class Reduces:
    """Pickles as ``callable(*args)`` followed by ``BUILD state`` when a state is given: crafted cases."""

    def __init__(self, callable_, args, state=None):
        self.reduced = (callable_, args) if state is None else (callable_, args, state)

    def __reduce__(self):
        return self.reduced


def crafted_array(shape, dtype, data, fortran=False):
    """The pickle NumPy writes for an array, with a state of our choosing."""
    return Reduces(_reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dtype, fortran, data))


def load(obj):
    return load_arrays(io.BytesIO(pickle.dumps(obj, protocol=2)))


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.array([1, -2], np.int64),
        np.arange(12, dtype=np.uint8).reshape(3, 4).T,  # Fortran order
        np.array([1.5, 2.5], dtype=">f8"),  # big-endian
        np.array([True, False]),
        np.zeros((0, 5), np.float32),
    ],
)
def test_numeric_arrays_round_trip(array):
    loaded = load(((array, [array]), {"k": array}))
    for got in (loaded[0][0], loaded[0][1][0], loaded[1]["k"]):
        assert type(got) is np.ndarray and got.dtype == array.dtype and got.shape == array.shape
        np.testing.assert_array_equal(got, array)
    assert loaded[0][0].flags.writeable


def test_a_pickle_that_would_run_code_is_refused():
    marker = "/tmp/zoo-pickle-pwned"
    if os.path.exists(marker):
        os.remove(marker)
    with pytest.raises(UnsafePickleError, match=r"posix\.system|os\.system"):
        load([np.zeros(2), RunsCode()])
    assert not os.path.exists(marker)


@pytest.mark.parametrize(
    "obj,message",
    [
        (np.load, r"numpy\.load, which is not a NumPy array constructor"),
        (Reduces(np.frombuffer, (b"abcd", np.uint8)), r"numpy.*frombuffer, which is not"),
        (Reduces(eval, ("1+1",)), r"__builtin__\.eval, which is not"),
        # wrong dtypes: objects (their state is a list of arbitrary objects), records, strings
        (np.array([1, "a"], dtype=object), r"dtype 'O8' is not a plain numeric dtype"),
        (np.zeros(2, dtype=[("a", "<i4")]), r"dtype 'V4' is not a plain numeric dtype"),
        (np.array(["ab"]), r"dtype 'U2' is not a plain numeric dtype"),
        # a dtype state that describes a field 100 bytes past a 1-byte item
        (Reduces(np.dtype, ("u1", False, True), (3, "|", None, ("a",), {"a": (np.dtype("u1"), 100)}, 1, 1, 0)),
         "sets more than a byte order"),
        # array states that do not describe their own bytes
        (crafted_array((2**30, 4), np.dtype("u1"), b"abc"), r"needs 4294967296 bytes, the pickle holds 3"),
        (crafted_array((2**62, 2**62), np.dtype("f8"), b""), r"shape .* is not a tuple of at most 32 sizes"),
        (crafted_array((-1,), np.dtype("u1"), b"a"), r"shape \(-1,\) is not a tuple"),
        (crafted_array((3,), np.dtype("u1"), [1, 2, 3]), "array data is a list, not bytes"),
        (crafted_array((3,), "u1", b"abc"), "was not built by the admitted dtype constructor"),
        (Reduces(_reconstruct, (np.ndarray, (5,), b"b")), r"is not how NumPy pickles an ndarray"),
        (Reduces(_reconstruct, (np.ndarray, (0,), b"b")), "reconstructed but never given its state"),
        (Reduces(_reconstruct, (np.ndarray, (0,), b"b"), {"__class__": None}), "is not \\(1, shape, dtype"),
        (Reduces(np.ndarray, ((4,), np.dtype("u1"), b"abcd", 0)), r"calls numpy\.ndarray directly"),
    ],
    ids=["numpy.load", "frombuffer", "eval", "object", "record", "unicode", "dtype-fields", "huge-shape",
         "overflowing-shape", "negative-shape", "list-data", "string-dtype", "reconstruct-shape", "no-state",
         "dict-state", "ndarray-call"],
)
def test_crafted_pickles_are_refused_with_a_clear_error(obj, message):
    with pytest.raises(UnsafePickleError, match=message):
        load(obj)


def test_codecs_encode_is_admitted_only_for_latin1_bytes():
    import codecs

    with pytest.raises(UnsafePickleError, match="only as encode\\(text, 'latin1'\\)"):
        load(Reduces(codecs.encode, ("abc", "rot13")))


def test_negative_offset_into_the_heap_is_refused_in_a_separate_process():
    """``numpy.ndarray(shape, dtype, buffer, offset)`` with a negative offset reads (or segfaults on) the heap.

    Run where a crash cannot take the test process down: the child must exit 0 having printed the refusal.
    """
    script = textwrap.dedent(
        """
        import io, pickle, numpy as np
        from zoo.data.safe_pickle import UnsafePickleError, load_arrays

        class HeapRead:
            def __init__(self, offset):
                self.offset = offset
            def __reduce__(self):
                return (np.ndarray, ((64,), np.dtype("u1"), b"x" * 64, self.offset))

        for offset in (-64, -(1 << 40)):
            try:
                leaked = load_arrays(io.BytesIO(pickle.dumps(HeapRead(offset), protocol=2)))
            except UnsafePickleError as exc:
                print("refused", exc)
            else:
                print("LOADED", bytes(leaked[:8]))
        """
    )
    result = subprocess.run([PYTHON, "-c", script], cwd=REPO, env=env_with(), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, f"the child died with status {result.returncode}: {result.stderr[-500:]}"
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("refused") for line in lines), result.stdout
    assert "calls numpy.ndarray directly" in lines[0]


def test_building_state_onto_an_admitted_global_is_refused():
    blob = (b"\x80\x02cnumpy\ndtype\n}X\x01\x00\x00\x00aK\x01sb.")  # dtype global, BUILD {'a': 1} onto it
    with pytest.raises(UnsafePickleError, match="sets state on numpy.dtype"):
        load_arrays(io.BytesIO(blob))


def test_self_containing_lists_are_refused():
    loop = [np.zeros(1)]
    loop.append(loop)
    with pytest.raises(UnsafePickleError, match="contains itself"):
        load(loop)


def test_garbage_is_a_data_error():
    with pytest.raises(DataError, match="not a valid pickle"):
        load_arrays(io.BytesIO(b"\x80\x02garbage"))
