"""Evaluations over many runs: closed-loop driving of planners on a scenario library
(:mod:`jwmsim.evaluation.closed_loop`), with confidence intervals
(:mod:`jwmsim.evaluation.confidence`) and reports (:mod:`jwmsim.evaluation.closed_loop_report`)."""
