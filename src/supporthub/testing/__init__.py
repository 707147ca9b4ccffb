"""Test helpers shared by every app's tests: factories and the named people."""
