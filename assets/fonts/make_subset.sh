#!/bin/sh
# Regenerates DejaVuSans-subset.ttf (the font the report figures are drawn
# with, bundled so that rendering needs no system font and gives the same
# bytes everywhere): ASCII plus ± · λ Δ – — − from DejaVu Sans 2.37
# (Debian fonts-dejavu-core), with fonttools 4 (`pip install fonttools`).
# License: assets/fonts/DejaVuSans-LICENSE.txt (Bitstream Vera / public domain).
set -e
pyftsubset /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
  --unicodes="U+0020-007E,U+00B1,U+00B7,U+03BB,U+0394,U+2013,U+2014,U+2212" \
  --output-file="$(dirname "$0")/DejaVuSans-subset.ttf" --no-hinting --desubroutinize
