"""Runtime: compiled modules and their callable functions."""
from .module import Function, Module
from .timing import TimeResult, time_function

__all__ = ["Module", "Function", "TimeResult", "time_function"]
