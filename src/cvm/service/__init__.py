"""Orchestration: the questions a face asks of a workspace, answered through the data, value and evaluation layers."""
