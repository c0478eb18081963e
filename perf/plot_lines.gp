# One line per series of a wide data file (perf/run writes them): a header line of quoted
# names, then x and one column per series, '?' where a series has no point.
# Variables (gnuplot -e): datafile, outfile, term, ncols, ttl, xl, yl, logx, logy, xint (1: a tic
# at every integer x).
set terminal @term
set termoption noenhanced
set output outfile
set datafile missing '?'
set title ttl
set xlabel xl
set ylabel yl
set grid
set key below
if (logx) set logscale x
if (logy) set logscale y
if (!logy) set yrange [0:*]
if (xint) set xtics 1
plot for [i=2:ncols+1] datafile using 1:i with linespoints lw 2 pt 7 ps 0.8 title columnheader(i)
