"""WorldGen: the causal video generator that turns skeleton renders plus its own past frames into the
final camera images (the ``jwm`` render path).

Inference lives here: :mod:`.configuration_worldgen`, :mod:`.modeling_worldgen` (the causal
transformer), :mod:`.conditioning`, :mod:`.kv_cache`, :mod:`.flow` (the noise schedule),
:mod:`.pipeline_worldgen` (the few-step sampler), :mod:`.weights` and :mod:`.frames` (the data types
that the pipeline, the training data and the evaluation share). Data, training, distillation and
evaluation are in :mod:`.training`. Nothing heavy is imported here."""
