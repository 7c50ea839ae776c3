"""``python -m jwmsim.cli ARGS`` = ``jwmsim ARGS`` (for launchers that take a module, e.g.
``accelerate launch -m jwmsim.cli train worldgen --preset gpu``)."""

from jwmsim.cli import main

if __name__ == "__main__":
    main()
