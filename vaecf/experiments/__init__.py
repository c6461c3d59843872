"""End-to-end runs: the paper's table, the annealing curve, β sweeps, activity analysis,
paired comparisons, tuning and the benchmark. May import vaecf's core and toys; never
plots, widgets, the notebook layer or the command line."""
