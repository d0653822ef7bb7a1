# pipelines/plot.gp - train and validation RMSE per epoch from mf-fit --log
# (the validation split is cut from train: the test set is not read).
# Called by `make plot` with logfile, out and algo set on the command line.
set datafile separator ','
set terminal pngcairo size 900,560 noenhanced
set output out
set title sprintf('%s: RMSE per epoch', algo)
set xlabel 'epoch'
set ylabel 'RMSE'
set grid
set key top right
plot logfile using 1:2 with linespoints title 'train' lw 2, \
     logfile using 1:3 with linespoints title 'validation (cut from train)' lw 2
