"""One module per merge method; each defines ``LABEL`` and ``merge(ctx, **hparams)``.

The module's file name is the method's name in the config. Nothing else registers it: the
config schema's list of valid names and the report's label are read from here.
"""
