# Latency per regime and peer: clustered bars of the median with whiskers from the fastest
# batch to the 99th percentile, log scale. perf/run writes the data: one row per regime,
# then median, min and p99 for each peer of `peers`, '?' where a peer did not run.
# Variables (gnuplot -e): datafile, outfile, term, peers.
set terminal @term
set termoption noenhanced
set output outfile
set datafile missing '?'
set title 'Batch latency per regime and peer (median; whiskers: min to p99)'
set ylabel 'batch latency (us), log scale'
set logscale y
set yrange [0.1:*]
set grid ytics
set key outside right top
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics nomirror
n = words(peers)
plot for [i=1:n] datafile using (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) title word(peers, i)
