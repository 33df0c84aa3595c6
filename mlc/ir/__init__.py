"""The IR every stage speaks: scalar expressions, buffers, TensorIR, te, printing."""
from . import dtype, expr, te, tir
from .buffer import Buffer, BufferRegion, decl_buffer
from .calls import CallPacked, CallPrimFunc, DeclBuffer
from .expr import (Binary, BufferLoad, Call, Cast, CommReducer, FloatImm, IntImm, IterVar, Not,
                   Let, PrimExpr, Range, Reduce, Select, Var, const)
from .structural import assert_structural_equal, structural_equal, structural_hash
from .tir import (Allocate, Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse, IRModule,
                  LetStmt, PrimFunc, SeqStmt, Stmt, While)

__all__ = [
    "dtype", "expr", "te", "tir", "Buffer", "BufferRegion", "decl_buffer", "Binary", "BufferLoad",
    "Call", "Cast", "CommReducer", "FloatImm", "IntImm", "IterVar", "Not", "PrimExpr", "Range",
    "Reduce", "Select", "Let", "Var", "const", "assert_structural_equal", "structural_equal",
    "structural_hash", "Allocate", "Block", "BlockRealize", "BufferStore", "Evaluate", "For",
    "IfThenElse", "IRModule", "LetStmt", "PrimFunc", "SeqStmt", "Stmt", "While", "CallPrimFunc", "CallPacked", "DeclBuffer",
]
