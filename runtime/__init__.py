"""Runs one process tree in a root filesystem. Knows nothing of images or Dockerfiles."""
