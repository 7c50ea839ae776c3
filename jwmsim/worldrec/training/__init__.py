"""Everything WorldRec needs besides inference: training data and its seed policy (:mod:`.data`),
the training loop (:mod:`.train`) and the evaluation (:mod:`.evaluate`). Inference imports nothing
from here."""
