"""Agents: tasks of several steps, each one seen before the next is chosen.

The loop is nlsh.agent.loop, its prompt nlsh.agent.prompt, its life inside a
job nlsh.agent.runner; programs use ``from nlsh.api import Agent``."""
