"""The model zoo above training: bundles, pyfunc models, registry versions, leaderboard, reproduction.

Run logging (`zoo.tracking`) sits below training; this package sits above it and may import
`zoo.training`, never the other way round (the layer contract in pyproject.toml)."""
