"""End-to-end tests on a cluster whose nodes run real containers (a package: its fixtures are shared by
every module here and torn down after the last one; see conftest.py)."""
