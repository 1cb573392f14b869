"""The stream worker's shell: the faust application (:mod:`lightkeeper.worker.faust_app`), its
lean Kafka fast path, and the assembly of the pipeline stages, including the alert stage that
joins :mod:`lightkeeper.processors` and :mod:`lightkeeper.alerts`."""
