"""Executes a build plan: stage by stage, step by step, into layers and an image."""
