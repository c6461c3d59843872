"""The small worked examples of notebooks 2-4, one module per idea: each builds a case
small enough to compute exactly. May import vaecf's core (data, models, metrics,
likelihoods, train), never experiments, plots or the notebook layer."""
