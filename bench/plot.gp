# compare.gp - hostcache against the alternatives, from bench_compare's
# --plot-data file.  gnuplot -e "data='FILE'; out='PNG'" bench/compare.gp
set terminal pngcairo size 1400,900 font ",10" noenhanced
set output out
set multiplot layout 2,1 title "hostcache vs a private table, a locked shared table, memcached and redis (unix sockets)\nmedian of the repetitions of one run; log scale"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set logscale y
set grid ytics
set key outside right top
set xtics rotate by -30 scale 0 font ",9"
set ylabel "operations per second (all processes)"
set format y "%.0e"
plot for [i=2:*] data index 0 using i:xtic(1) title columnheader(i)
set ylabel "p50 latency, ns"
set yrange [5:*]
set format y "%g"
plot for [i=2:*] data index 1 using i:xtic(1) title columnheader(i)
unset multiplot
