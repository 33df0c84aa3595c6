"""The llvm backend: lowered TensorIR -> llvmlite IR -> LLVM O3 -> MCJIT for the host CPU.

Importing this package registers the ``llvm`` target kind (:mod:`.target_kind`)
and the backend (:mod:`.backend`); :mod:`mlc.backends` imports it the first
time a target names ``llvm``.

Modules, by responsibility:

* ``target_kind`` the ``llvm`` target kind: -mcpu/-mattr, checked against LLVM
* ``backend``    the Backend object the driver calls
* ``types``      dtype -> LLVM types and constants
* ``arith``      binary ops and casts with NumPy semantics (no traps, no poison)
* ``intrinsics`` math calls: LLVM intrinsics and registered libm functions
* ``loops``      counted loops and For-kind loop metadata
* ``parallel``   parallel loops: outlined bodies on libgomp's thread pool
* ``memory``     Allocate: entry-block allocas or malloc/free
* ``codegen``    one lowered PrimFunc -> one LLVM function
* ``symbols``    the external symbols kernels may use, registered explicitly
* ``jit``        parse, optimise (new pass manager, O3), emit, load
* ``threaded``   LLVM's slow calls outside llvmlite's lock, modules built side by side
* ``module``     the TIR pass list, codegen_llvm (modules per thread), load_llvm, the runtime Module
"""
from ...dependencies import check_llvmlite

check_llvmlite()  # first: an old llvmlite is named, not crashed on

from ...target import register_target_kind  # noqa: E402
from ..registry import register_backend  # noqa: E402
from .backend import LLVMBackend  # noqa: E402
from .module import LLVM_TIR_PASSES, LLVMModule, codegen_llvm, compile_sources, load_llvm  # noqa: E402
from .target_kind import LLVM_KIND  # noqa: E402

__all__ = ["LLVMBackend", "LLVM_TIR_PASSES", "LLVMModule", "codegen_llvm", "compile_sources", "load_llvm",
           "BACKEND"]

register_target_kind(LLVM_KIND)  # before the backend: its targets take -mcpu= and -mattr=
#: The registered llvm backend.
BACKEND = register_backend(LLVMBackend())
