# plot.gp - the plots of hcbench, from the files of its --plot-data DIR.
#
#   gnuplot -e "data='DIR'; out='PREFIX'; fmt='svg'" bench/plot.gp
#
# draws PREFIX-scaling.FMT (ops/s by process count: the YCSB mixes and the
# hot key), PREFIX-latency.FMT (get_hit p50 and p99 by data set, one
# process) and PREFIX-throughput.FMT (get_hit and set ops/s by data set).
# FMT is svg or png.  DIR/have.gp says which columns hold numbers; a panel
# without any says "not measured".

if (fmt eq "svg") {
	set terminal svg size 1500,850 dynamic font "sans,11" \
	    background rgb "white" noenhanced
} else {
	set terminal pngcairo size 1500,850 font "sans,10" noenhanced
}
load data."/have.gp"

array impl[6] = ["hostcache", "private", "rwlock", "mutex", "memcached", \
                 "redis"]
# One colour per implementation, the same in every plot.
set linetype 1 lc rgb "#d62728" lw 2.5 pt 7 ps 0.9 dt solid
set linetype 2 lc rgb "#555555" lw 1.5 pt 5 ps 0.8 dt solid
set linetype 3 lc rgb "#1f77b4" lw 1.5 pt 9 ps 0.9 dt solid
set linetype 4 lc rgb "#17becf" lw 1.5 pt 11 ps 0.9 dt solid
set linetype 5 lc rgb "#2ca02c" lw 1.5 pt 13 ps 0.9 dt solid
set linetype 6 lc rgb "#9467bd" lw 1.5 pt 15 ps 0.9 dt solid

# A panel without data.
nodata = "set label 1 'not measured' at graph 0.5, 0.5 center; \
          unset tics; unset xlabel; unset ylabel; set xrange [0:1]; \
          set yrange [0:1]; plot 1/0 notitle; unset label 1; set tics; \
          set autoscale"

# ---- ops/s by process count ---------------------------------------------
array title[7] = ["ycsb_c: 100% get, Zipf 0.99", \
                  "ycsb_b: 95% get, 5% set, Zipf 0.99", \
                  "ycsb_a: 50% get, 50% set, Zipf 0.99", \
                  "ycsb_c: 100% get, uniform", \
                  "ycsb_b: 95% get, 5% set, uniform", \
                  "ycsb_a: 50% get, 50% set, uniform", \
                  "hot_key: every process reads one key"]
set output out."-scaling.".fmt
set multiplot layout 2,4 title "Throughput by process count, median of \
the repetitions (log scales; from 4 processes on, more processes than CPUs)" \
    font ",13"
set grid xtics ytics mytics
set format y "%.0e"
unset key
do for [b = 1:7] {
	set title title[b]
	if (words(cols_scaling[b]) > 0) {
		@procs_tics
		set logscale xy
		set xlabel "processes"
		set ylabel "ops/s, all processes"
		plot for [c in cols_scaling[b]] data."/scaling.dat" index (b - 1) \
		     using 1:(column(int(c) + 1)) with linespoints lt int(c) \
		     title impl[int(c)]
	} else {
		unset logscale
		@nodata
	}
}
# The eighth panel: the legend, and what the names mean.
unset title
unset border
unset tics
unset grid
unset logscale
unset xlabel
unset ylabel
set xrange [0:1]
set yrange [0:1]
set key at graph 0.35, 1.0 font ",10" samplen 3
set label 2 "hostcache: the library\nprivate: a table per process,\n  \
no lock (the upper bound)\nrwlock, mutex: one shared\n  table behind one \
lock\nmemcached, redis: unix\n  socket, one request at a time" \
    at graph 0.0, 0.45 left font ",10"
plot for [i = 1:6] 1/0 with linespoints lt i title impl[i]
unset label 2
unset multiplot

# ---- latency of get_hit ------------------------------------------------------
reset
set output out."-latency.".fmt
set multiplot layout 2,1 title "get_hit latency with 1 process, by value size \
and where the data fits: median of the repetitions (log scale)" font ",13"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set grid ytics
set key outside right top
set xtics scale 0
do for [q = 0:1] {
	set ylabel (q ? "p99 ns" : "p50 ns")
	if (words(cols_latency) > 0) {
		set logscale y
		plot for [c in cols_latency] data."/latency.dat" \
		     using (column(int(c) + 1 + 6 * q)):xtic(1) lt int(c) \
		     title impl[int(c)]
	} else {
		unset logscale
		@nodata
	}
}
unset multiplot

# ---- throughput of get_hit and set -------------------------------------------
set output out."-throughput.".fmt
set multiplot layout 2,1 title "get_hit and set throughput by value size, \
where the data fits and process count: median of the repetitions (log scale)" \
    font ",13"
set ylabel "ops/s, all processes"
set format y "%.0e"
set xtics rotate by -30 font ",9"
do for [b = 1:2] {
	set title (b == 1 ? "get_hit: uniform gets of present keys" : \
	                    "set: uniform overwrites of present keys")
	if (words(cols_throughput[b]) > 0) {
		set logscale y
		plot for [c in cols_throughput[b]] data."/throughput.dat" \
		     index (b - 1) using (column(int(c) + 1)):xtic(1) lt int(c) \
		     title impl[int(c)]
	} else {
		unset logscale
		@nodata
	}
}
unset multiplot
