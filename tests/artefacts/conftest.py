"""The artefacts an administrator installs (Debian packages, container images, odcctl alone),
tested as they are installed: built from this tree, then put where they run (a fresh Debian 12
chroot, a Docker engine, a root file system with no C library). They use the integration test
world's fixtures (tests/integration/conftest.py: mariadb, dockerd, odc_host, deb_dir, ...) and
tests/world's fleet. tests/run-all.sh runs them beside the e2e suite: they spend their time in
mmdebstrap, dpkg and Docker, the e2e tests in waiting on their testbed."""

from tests.integration.conftest import *  # noqa: F401,F403 (the world's fixtures)
from tests.world.fleet import fleet  # noqa: F401 (the fixture)
