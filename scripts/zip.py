#!/usr/bin/python3
"""Writes a Lambda deployment zip that is byte-identical for identical input.

    zip.py OUT.zip FILE

The zip holds FILE as `bootstrap` at the root, mode 0755, with a fixed
timestamp and deflate level 9, so `terraform plan` sees no change when the
binary has not changed.
"""
import os
import sys
import zipfile

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: zip.py OUT.zip FILE")
    out, src = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        data = f.read()
    info = zipfile.ZipInfo("bootstrap", date_time=FIXED_TIME)
    info.external_attr = (0o100755 & 0xFFFF) << 16
    info.create_system = 3  # unix, so the mode bits are honoured
    info.compress_type = zipfile.ZIP_DEFLATED
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
