"""The variant study (Greff et al. 2017): which recurrent core wins a random search over
cores, read from its search (`zoo-study`)."""
