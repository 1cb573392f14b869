"""Stream processing: enrichment and cost, quality scorers, drift, anomalies, sinks.

Logic lives in plain functions/classes over batches so the faust worker, the embedded runtime
and the tests share it. Importing this package must stay cheap: heavy libraries (torch,
sentence-transformers, scikit-learn, evidently) are imported inside the modules that need them.
"""
