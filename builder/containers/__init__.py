"""Containers: the run request and its start, container directories, lifecycle (ps/stop/rm/logs), addresses and users."""
