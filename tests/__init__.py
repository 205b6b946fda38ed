"""odc-fleet's tests. A package so that `tests.world` (the test world) and `tests.py` (the
protocol's independent implementation) are imported by the same name everywhere: pytest finds
them through `pythonpath = .` in pytest.ini, stand-alone programs (deploy/testbed/testbed.py,
bench/, tests/world/bin/) by putting the repository first on their path."""
