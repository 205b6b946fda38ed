"""The test world: what the agent meets on a real ODC host, built on one machine.

  odcworld   MariaDB (the metadb), private Docker engines, the ODC stand-in images, ODC hosts
             left the way a failed upgrade leaves them, and what a host holds (metadb, backup)
  obtools    the obloader/obdumper stand-ins (bin/obloader, bin/obdumper run it)
  agentcli   odc-agent's command line and an agent.conf written for a world host
  coordpeer  a coordinator peer and agent daemons over the real protocol (tests.py.odcproto)
  fleet      a coordinator with agents and their hosts (pytest fixtures)

See README.md for what each stand-in models and its sources."""
