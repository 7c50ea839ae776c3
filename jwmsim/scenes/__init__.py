"""Scene sources: how a log becomes the Gaussian scene the simulator renders (the skeleton).

One registry (:data:`~jwmsim.scenes.sources.SCENE_SOURCES`, entry-point group
``jwmsim.scene_sources``) of ways to build a scene (``lidar``, ``fit``, ``worldrec``), and a cache
(:func:`~jwmsim.scenes.sources.scene_for_log`) keyed by the log's content digest and the source's
version. The environment, replay, viewer, export and the models' training data all read scenes
through it. Nothing heavy is imported here.
"""
