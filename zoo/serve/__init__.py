"""``zoo.serve``: TF Serving's REST and gRPC APIs over a directory of SavedModels (``python -m zoo.serve``).

Modules: ``loaded_models`` (which versions are loaded; the file-system poll), ``loader`` (one version in its own
session), ``batching``, ``json_codec`` and ``predict_json`` (REST tensors), ``examples`` (REST tf.Examples),
``methods`` (classify/regress/metadata shaping), ``rest``, ``grpc_service``, ``server`` (both together).

Example:

>>> from zoo.serve import ModelServer
>>> server = ModelServer("saved_models", rest_port=0, grpc_port=0).start()    # doctest: +SKIP
>>> server.stop()                                                             # doctest: +SKIP
"""

from zoo.serve.batching import BatchingOptions
from zoo.serve.server import ModelServer

__all__ = ["BatchingOptions", "ModelServer"]
