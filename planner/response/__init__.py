"""Answering a hoax within minutes: standby clarifications, spike playbooks, approval from the staff chat."""
