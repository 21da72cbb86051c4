"""One module per built-in merge method: ``METHOD = MergeMethod(...)`` and ``merge(ctx,
**hparams)`` (see :mod:`neulig.catalogue`).

The module's file name is the method's name in the config. Nothing else registers it: the
schema's list of valid names, the plan's jobs and the report's label are read from here.
"""
