"""Built-in recipes. Each module is imported here by name, so registration never hides behind an import."""

from recipes import cnn_mnist  # noqa: F401
from recipes import lstm  # noqa: F401
from recipes import autoencoder  # noqa: F401
from recipes import kmeans  # noqa: F401
from recipes import t5  # noqa: F401
from recipes import bert  # noqa: F401
from recipes import electra  # noqa: F401
