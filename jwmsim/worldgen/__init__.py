"""WorldGen: the causal video generator that turns skeleton renders plus its own past frames into the
final camera images (the ``jwm`` render path). See :mod:`jwmsim.worldgen.frames` for the data types that
the training data, the evaluation and the pipeline share."""
