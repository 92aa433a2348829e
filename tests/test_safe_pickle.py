import io
import os
import pickle

import numpy as np
import pytest

from zoo.data.safe_pickle import UnsafePickleError, load_arrays
from zoo.errors import DataError


class RunsCode:
    """Unpickling this would call os.system: the classic pickle exploit."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/zoo-pickle-pwned",))


def test_arrays_and_containers_round_trip():
    arrays = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], np.int64)), [np.zeros(1)])
    loaded = load_arrays(io.BytesIO(pickle.dumps(arrays, protocol=2)))
    np.testing.assert_array_equal(loaded[0][0], arrays[0][0])
    assert loaded[0][1].dtype == np.int64


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = "/tmp/zoo-pickle-pwned"
    if os.path.exists(marker):
        os.remove(marker)
    with pytest.raises(UnsafePickleError, match=r"posix\.system|os\.system"):
        load_arrays(io.BytesIO(pickle.dumps([np.zeros(2), RunsCode()])))
    assert not os.path.exists(marker)


def test_other_numpy_callables_are_refused_too():
    blob = pickle.dumps(np.load)  # a real numpy function, but not an array constructor
    with pytest.raises(UnsafePickleError, match="not a NumPy array constructor"):
        load_arrays(io.BytesIO(blob))


def test_garbage_is_a_data_error():
    with pytest.raises(DataError, match="not a valid pickle"):
        load_arrays(io.BytesIO(b"\x80\x02garbage"))
