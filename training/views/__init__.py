"""Views of the training app: ``runs`` (list, launch, run page, lineage), ``results``
(a critique–revision run's examples, statistics, exports), ``catalog`` (prompt sets,
models)."""
