"""The model comparison (LSTM or another model?): per-architecture searches with one budget,
winners over seeds, tests against the best LSTM, costs (`zoo-compare`, `sweeps/compare_*.yaml`)."""
