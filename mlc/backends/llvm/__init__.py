"""The llvm backend: lowered TensorIR -> llvmlite IR -> LLVM O3 -> MCJIT for the host CPU.

Modules, by responsibility:

* ``types``      dtype -> LLVM types and constants
* ``arith``      binary ops and casts with NumPy semantics (no traps, no poison)
* ``intrinsics`` math calls: LLVM intrinsics and registered libm functions
* ``vecmath``    exp, expm1, log, tanh, sigmoid, erf as vectorisable polynomial IR
* ``loops``      counted loops and For-kind loop metadata
* ``parallel``   parallel loops: outlined bodies on libgomp's thread pool
* ``memory``     Allocate: entry-block allocas or malloc/free
* ``codegen``    one lowered PrimFunc -> one LLVM function
* ``symbols``    the external symbols kernels may use, registered explicitly
* ``jit``        parse, optimise (new pass manager, O3), emit, load
* ``module``     build_llvm and the runtime Module it returns
"""
from .module import LLVMModule, build_llvm, compile_sources

__all__ = ["build_llvm", "compile_sources", "LLVMModule"]
