"""Material ids and the per-face attribute layout shared by the mesh builders and the shader."""

from __future__ import annotations

PLAIN = 0  # colour only, slight grain
ASPHALT = 1  # road surface: grain + patches
FACADE = 2  # building walls: window grid from params (spacing [m], floor height [m], style, phase)
SIDEWALK = 3  # paving tiles on top faces, plain concrete on curb faces
TERRAIN = 4  # grass / dirt mix
FOLIAGE = 5  # tree canopies
PAINT = 6  # glossy car paint
GLASS = 7  # windows of cars: dark, reflects the sky
MARKING = 8  # road paint, slightly worn
EMISSIVE = 9  # lamps: colour is radiance, not lit

NUM_MATERIALS = 10
