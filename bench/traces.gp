# traces.gp - miss ratio against cache size, one panel per trace, from
# trace_replay's --plot-data file.
#   gnuplot -e "data='FILE'; out='PNG'" bench/traces.gp
names = system("sed -n 's/^# //p' '" . data . "'")
n = words(names)
cols = n < 3 ? n : 3
rows = (n + cols - 1) / cols
set terminal pngcairo size 480*cols,400*rows font ",10" noenhanced
set output out
set multiplot layout rows,cols title "object miss ratio vs cache size (fraction of the unique keys' footprint): hostcache (real segment) and simulated policies at the same item memory"
set logscale x
set xrange [0.0007:0.14]
set format x "%g"
set xlabel "cache size / footprint"
set ylabel "miss ratio"
set grid
set key bottom left font ",8"
do for [k=0:n-1] {
  set title word(names, k+1)
  plot for [i=2:8] data index k using 1:i with linespoints lw (i == 2 ? 3 : 1) \
       pt (i == 2 ? 7 : i) title columnheader(i)
}
unset multiplot
