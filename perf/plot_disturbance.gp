# How much CPU other processes took while the suite measured: each bench_regimes line in the
# order measured (top) and each program run (bottom), with the threshold above which a
# figure counts as disturbed. Variables (gnuplot -e): datafile, runsfile, outfile, term,
# threshold.
set terminal @term
set termoption noenhanced
set output outfile
set multiplot layout 2,1
set grid ytics
set yrange [0:*]
set key outside right top
set ylabel 'others_cpu (CPUs)'
set title 'Other processes during each bench_regimes measurement'
set xlabel 'measurement, in the order run'
plot datafile using 1:2 with impulses lw 2 lc rgb '#6a3d9a' title 'others_cpu', \
     threshold with lines dt 2 lw 2 lc rgb '#e31a1c' title 'disturbed above'
set title 'Other processes during each program run'
set xlabel 'program run, in the order run (see the Runs table)'
set style fill solid 0.6
set boxwidth 0.8
plot runsfile using 1:2 with boxes lc rgb '#6a3d9a' title 'others_cpu', \
     threshold with lines dt 2 lw 2 lc rgb '#e31a1c' title 'disturbed above'
unset multiplot
