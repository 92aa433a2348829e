"""``--monitoring-config-file``: TF Serving's ``MonitoringConfig`` text proto, which turns the Prometheus endpoint on.

The file ``tensorflow_model_server`` reads::

    prometheus_config {
      enable: true
      path: "/monitoring/prometheus/metrics"
    }

The ``tensorflow-serving-api`` package does not ship this message, so it is declared here with TF Serving's field
numbers (``tensorflow_serving/config/monitoring_config.proto``) and the file is parsed by protobuf's own text-format
reader: a file TF Serving accepts is accepted here, and anything else is refused with protobuf's message.

Example:

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "monitoring.config"
>>> _ = path.write_text('prometheus_config { enable: true, path: "/metrics" }')
>>> prometheus_path(path)
'/metrics'
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

DEFAULT_PATH = "/monitoring/prometheus/metrics"  # TF Serving's default when the path is left empty


def _monitoring_config_class():
    file = descriptor_pb2.FileDescriptorProto(name="zoo_monitoring_config.proto", package="tensorflow.serving",
                                              syntax="proto3")
    prometheus = file.message_type.add(name="PrometheusConfig")
    prometheus.field.add(name="enable", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
                         label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    prometheus.field.add(name="path", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                         label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    monitoring = file.message_type.add(name="MonitoringConfig")
    monitoring.field.add(name="prometheus_config", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                         type_name=".tensorflow.serving.PrometheusConfig",
                         label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig"))


MonitoringConfig = _monitoring_config_class()


class MonitoringConfigError(ValueError):
    """The file cannot be read or is not a MonitoringConfig text proto (the message names the file)."""


def prometheus_path(path: str | Path) -> str | None:
    """The HTTP path the metrics are served on, or None when ``prometheus_config.enable`` is not true."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise MonitoringConfigError(f"cannot read monitoring config {path}: {error}") from None
    try:
        config = text_format.Parse(text, MonitoringConfig())
    except text_format.ParseError as error:
        raise MonitoringConfigError(f"monitoring config {path}: {error}") from None
    settings = config.prometheus_config
    if not settings.enable:
        return None
    route = settings.path or DEFAULT_PATH
    if not route.startswith("/"):
        raise MonitoringConfigError(f"monitoring config {path}: prometheus_config.path {route!r} must start with '/'")
    return route
