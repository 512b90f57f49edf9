# miss.gp - object miss ratio against cache size, one panel per trace, from
# hcmiss --plot-data: hostcache (a real segment) beside exact LRU, FIFO and
# SIEVE holding as many objects as the segment held.  Writes OUT.svg and
# OUT.png.
#   gnuplot -e "data='FILE'; out='bench/results/miss'" bench/hcmiss/miss.gp
names = system("sed -n 's/^# //p' '" . data . "'")
n = words(names)
cols = n < 3 ? n : 3
rows = (n + cols - 1) / cols
heading = "object miss ratio vs cache size (fraction of the unique keys' footprint): " . \
          "hostcache, and LRU / FIFO / SIEVE holding the items hostcache held"
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 480*cols,400*rows dynamic font "sans,10" noenhanced
  } else {
    set terminal pngcairo size 480*cols,400*rows font ",10" noenhanced
  }
  set output out . "." . fmt
  set multiplot layout rows,cols title heading
  set logscale x
  set xrange [0.0007:0.14]
  set format x "%g"
  set xlabel "cache size / footprint"
  set ylabel "miss ratio"
  set grid
  set key bottom left font ",8"
  do for [k=0:n-1] {
    set title word(names, k+1)
    plot for [i=2:5] data index k using 1:i with linespoints \
         lw (i == 2 ? 3 : 1) pt (i == 2 ? 7 : i) title columnheader(i)
  }
  unset multiplot
  set output
}
