"""``jwmsim export``: a scenario's jittered closed-loop runs written as one nuScenes-format dataroot.

Each run is one scene: the render path's camera images (keyframes at 2 Hz, the other frames as
sweeps), the simulated ego poses and the rig's calibrated sensors, an annotation of every actor as
simulated on every keyframe (category, size, velocity, attribute, visibility), the seed log's map,
and a provenance record of how the images were made. Modules:

* :mod:`.options`: :class:`ExportOptions`;
* :mod:`.run`: :func:`export` (resume, backends, progress, Ctrl-C);
* :mod:`.scene_task`: one scene, the task a backend maps;
* :mod:`.annotations` and :mod:`.visibility`: the boxes and how much of them the cameras see;
* :mod:`.merge`: staged scenes into the dataroot, the tables rewritten atomically;
* :mod:`.provenance`: render path, scene and weights digests;
* :mod:`.layout`: where everything lives in the dataroot.
"""

from jwmsim.export.options import ExportOptions
from jwmsim.export.run import ExportResult, export, export_summary

__all__ = ["ExportOptions", "ExportResult", "export", "export_summary"]
