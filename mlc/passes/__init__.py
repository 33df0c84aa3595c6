"""Passes: pure, named functions from one program to the next.

``mlc.passes.tir`` lowers scheduled TensorIR (blocks, multi-dimensional
buffers) to the loop-and-flat-buffer form the backends generate code from.
"""
