"""Screening of submissions for state-designated industriparker."""
