"""Runtime: compiled modules and their callable functions; ``load`` opens exported libraries."""
from .loader import load
from .module import Function, Module
from .timing import TimeResult, time_function

__all__ = ["Module", "Function", "TimeResult", "time_function", "load"]
