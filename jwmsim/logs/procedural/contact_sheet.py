"""A contact sheet of a log's six cameras at one time (front row: FL, F, FR; back row: BL, B, BR).

Run ``python -m jwmsim.logs.procedural.contact_sheet OUT.jpg [--dataroot DIR] [--time T]``; without
``--dataroot`` it uses the built-in seed log.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from jwmsim.errors import ConfigError

LAYOUT = (("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"), ("CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT"))


def contact_sheet(dataroot: Path | str, time: float = 0.0, label: bool = True) -> np.ndarray:
    """``[2 H, 3 W, 3]`` uint8 RGB mosaic of the frames nearest to ``time`` [s] (missing cameras
    stay black)."""
    from jwmsim.logs.nuscenes import load_nuscenes_log

    log = load_nuscenes_log(dataroot, with_lidar=False)
    name = next(iter(log.cameras))
    h, w = log.native_size(name)
    rows = []
    for row in LAYOUT:
        tiles = []
        for cam in row:
            if cam not in log.cameras:
                tiles.append(np.zeros((h, w, 3), np.uint8))
                continue
            img = log.image(cam, log.nearest_frame(cam, time), size_hw=(h, w)).copy()
            if label:
                cv2.putText(img, cam, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 3, cv2.LINE_AA)
                cv2.putText(
                    img, cam, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA
                )
            tiles.append(img)
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="output image (.jpg or .png)")
    parser.add_argument("--dataroot", type=Path, default=None, help="nuScenes dataroot (default: seed log)")
    parser.add_argument("--time", type=float, default=0.0, help="seconds since the log start")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality")
    args = parser.parse_args(argv)
    if args.dataroot is None:
        from jwmsim.logs.procedural.default_log import default_log_path

        args.dataroot = default_log_path()
    sheet = contact_sheet(args.dataroot, args.time)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ok = cv2.imwrite(
        str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, args.quality]
    )
    if not ok:
        raise ConfigError(
            f"could not write {args.out}", hint="use a .jpg or .png file name in a writable folder"
        )
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
