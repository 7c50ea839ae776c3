"""The nuScenes v1.0 taxonomy: categories (with their nuScenes-lidarseg index), attributes and
visibility levels, as the public dataset defines them. Names and indices are nuScenes'; the
descriptions are short paraphrases."""

from __future__ import annotations

# (name, description); the position in the tuple is the nuScenes-lidarseg ``index``.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("noise", "Lidar returns that belong to no physical object (dust, spray, reflections)."),
    ("animal", "Any animal."),
    ("human.pedestrian.adult", "Adult pedestrian."),
    ("human.pedestrian.child", "Child pedestrian."),
    ("human.pedestrian.construction_worker", "Construction worker."),
    ("human.pedestrian.personal_mobility", "Person on a skateboard, segway or scooter."),
    ("human.pedestrian.police_officer", "Police officer."),
    ("human.pedestrian.stroller", "Stroller, with its occupant."),
    ("human.pedestrian.wheelchair", "Wheelchair, with its occupant."),
    ("movable_object.barrier", "Temporary road barrier."),
    ("movable_object.debris", "Movable debris on the drivable surface."),
    ("movable_object.pushable_pullable", "Objects a pedestrian pushes or pulls (bins, carts)."),
    ("movable_object.trafficcone", "Traffic cone."),
    ("static_object.bicycle_rack", "Bicycle rack, with the bicycles parked in it."),
    ("vehicle.bicycle", "Bicycle."),
    ("vehicle.bus.bendy", "Section of a bendy bus."),
    ("vehicle.bus.rigid", "Rigid bus."),
    ("vehicle.car", "Passenger car, van or SUV."),
    ("vehicle.construction", "Construction vehicle."),
    ("vehicle.emergency.ambulance", "Ambulance."),
    ("vehicle.emergency.police", "Police vehicle."),
    ("vehicle.motorcycle", "Motorcycle or scooter."),
    ("vehicle.trailer", "Trailer."),
    ("vehicle.truck", "Truck or pick-up."),
    ("flat.driveable_surface", "Surface a car may drive on."),
    ("flat.other", "Other horizontal ground-level structures (traffic islands, rails)."),
    ("flat.sidewalk", "Sidewalk or pedestrian path."),
    ("flat.terrain", "Natural low ground cover (grass, soil, sand)."),
    ("static.manmade", "Man-made structures: buildings, walls, poles, signs."),
    ("static.other", "Background that fits no other class."),
    ("static.vegetation", "Vegetation higher than 20 cm: bushes, trees."),
    ("vehicle.ego", "The recording vehicle itself."),
)
ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("vehicle.moving", "Vehicle is moving."),
    ("vehicle.stopped", "Vehicle is stationary with the intent to move."),
    ("vehicle.parked", "Vehicle is parked."),
    ("cycle.with_rider", "Bicycle or motorcycle with a rider."),
    ("cycle.without_rider", "Bicycle or motorcycle without a rider."),
    ("pedestrian.sitting_lying_down", "Pedestrian is sitting or lying down."),
    ("pedestrian.standing", "Pedestrian is standing."),
    ("pedestrian.moving", "Pedestrian is moving."),
)
# (token, level, description): nuScenes uses the tokens "1".."4".
VISIBILITIES: tuple[tuple[str, str, str], ...] = (
    ("1", "v0-40", "visibility of whole object is between 0 and 40%"),
    ("2", "v40-60", "visibility of whole object is between 40 and 60%"),
    ("3", "v60-80", "visibility of whole object is between 60 and 80%"),
    ("4", "v80-100", "visibility of whole object is between 80 and 100%"),
)
CATEGORY_NAMES: frozenset[str] = frozenset(name for name, _ in CATEGORIES)
ATTRIBUTE_NAMES: frozenset[str] = frozenset(name for name, _ in ATTRIBUTES)
