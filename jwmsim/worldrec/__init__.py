"""WorldRec: feed-forward reconstruction of a log into a :class:`~jwmsim.gaussians.scene.GaussianScene`.

Modules: :mod:`.configuration_worldrec` (sizes), :mod:`.modeling_worldrec` (the network),
:mod:`.queries` (sparse 3D queries and lidar depth maps, NumPy), :mod:`.inputs` (a log window as
tensors), :mod:`.window`, :mod:`.reconstruct` (window-by-window fusion of a whole log),
:mod:`.weights` (where the weights are); data, training and evaluation are in :mod:`.training`. The
``worldrec`` scene source that adapts it to the simulator is :mod:`jwmsim.scenes.worldrec_source`.
Nothing heavy is imported here.
"""
