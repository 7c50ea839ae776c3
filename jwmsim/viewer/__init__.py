"""``jwmsim view``: a pygame viewer for scenario designers.

Shows a run of a scenario (camera mosaic, bird's-eye view, HUD), plays it at the simulation rate,
scrubs its recorded timeline, lets the user drive the ego or hand it to a planner, and edits the
scenario (drag actors, speed, behaviour, trigger, insert assets), saving it back to YAML.

Modules: :mod:`~jwmsim.viewer.options` (settings), :mod:`~jwmsim.viewer.session` (the run and its
timeline), :mod:`~jwmsim.viewer.editing` (scenario edits), :mod:`~jwmsim.viewer.bev_view`,
:mod:`~jwmsim.viewer.hud`, :mod:`~jwmsim.viewer.drawing` (the frame), :mod:`~jwmsim.viewer.controls`
and :mod:`~jwmsim.viewer.commands` (keys), :mod:`~jwmsim.viewer.app` (the window).
"""

from __future__ import annotations

from jwmsim.viewer.options import ViewerOptions

__all__ = ["ViewerOptions"]
